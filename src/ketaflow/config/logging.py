"""A log filter that keeps patient data out of application logs.

Django attaches the request to some log records (errors, 4xx warnings) and their messages can carry
a URL with its query string (`?q=<surname>`). The filter drops the request object and cuts query
strings from the message, so nothing a user typed reaches a log line.
"""

from __future__ import annotations

import logging
import re

_QUERY_STRING = re.compile(r"\?[^\s\"']*")


class RedactRequestDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "request"):
            record.request = None
        message = record.getMessage()
        redacted = _QUERY_STRING.sub("?[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
