"""Who is acting: built once per request (page or API token) or per CLI command, passed to services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ketaflow.accounts.roles import Permission, Role, permissions_for
from ketaflow.validation import Forbidden


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    organization_id: uuid.UUID
    roles: frozenset[Role]
    staff_id: uuid.UUID | None = None
    ip_address: str | None = None
    via: str = "web"
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", permissions_for(self.roles))

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"Your role does not allow this ({permission.value}).")

    @property
    def role_label(self) -> str:
        return ",".join(sorted(r.value for r in self.roles)) or "none"

    @classmethod
    def system(cls, organization_id: uuid.UUID, via: str = "cli") -> Actor:
        """The software itself acting for an organization: demo loading, imports, the CLI."""
        return cls(
            user_id=None,
            username=f"system:{via}",
            organization_id=organization_id,
            roles=frozenset(Role),
            via=via,
        )
