"""ketaflow's sample consent wording, seeded as version 1 of each route's template on first use.

Synthetic sample text drawn from the clinical reference (§1 the pathway and side effects, §2 home
use, §4 monitoring and the esketamine observation rules, §8 crisis resources). It is marked as
sample wording in its first line and on the staff pages: a clinic must have it reviewed (clinically
and legally) and save its own version before relying on it.

Where its numbers come from:
- esketamine (28 mg per device, 5 minutes between devices, no food for 2 hours and no liquids for
  30 minutes before; blood pressure again about 40 minutes after; at least 2 hours' observation with
  a prescriber on site; no driving until the next day; never dispensed for home use): the US
  prescribing information for Spravato and its REMS;
- an IV infusion lasting about 45 to 60 minutes: what practices describe (clinical reference §1),
  no published source [verify];
- home use (a treatment monitor at every dose, daily check-ins, weekly PHQ-9 and GAD-7, doses
  released in stages): services' own material, not peer reviewed (clinical reference §2) [verify];
  the APA consensus (Sanacora et al., JAMA Psychiatry 2017;74:399-405) discourages unsupervised home
  use, hence "an explicit decision by your prescriber".
Being wording, not rules, none of these drives the software; a clinic's own version replaces them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SAMPLE_MARK = "Sample wording: have it reviewed before clinical use."

TITLES = {
    ("iv", "clinic"): "Consent to ketamine treatment by IV infusion",
    ("im", "clinic"): "Consent to ketamine treatment by intramuscular injection",
    ("sublingual_home", "home"): "Consent to ketamine treatment at home (sublingual)",
    ("esketamine", "clinic"): "Consent to esketamine nasal spray treatment",
}

_INTRO = """{mark}

# About this form
This form explains the treatment your clinician has suggested, what to expect, its risks and the \
alternatives. Please read it carefully and ask us about anything that is unclear before you sign. \
Ketamine is not a standalone treatment: it works best alongside talk therapy and the other support \
your care team offers."""

_SIDE_EFFECTS = """# Common side effects
During and shortly after a dose you may notice:
- dizziness, drowsiness or confusion
- nausea
- a raised heart rate and changes in blood pressure
- feeling detached from yourself or your surroundings (dissociation)
- hallucinations or double vision
These effects usually pass within a few hours. Tell us about anything unusual or that worries you, \
during treatment or afterwards."""

_IN_CLINIC = """# What happens in a session
You rest in a calm treatment room; many people bring a music playlist. {session} A clinician \
monitors your vital signs (blood pressure, heart rate, breathing and oxygen level) throughout and \
manages side effects, adjusting or stopping the dose if needed. You stay with us until a clinician \
confirms you are ready to leave.

# Afterwards
- Someone else must take you home: you may not drive, cycle or operate machinery until the next \
day after a night's sleep.
- Rest and drink water; avoid alcohol and sedating medicines that your clinician has not approved.
- Report any unusual effects to the clinic."""

_SESSIONS = {
    "iv": "Ketamine is given through a small cannula in a vein; an infusion usually lasts about 45 to "
          "60 minutes.",
    "im": "Ketamine is given as an injection into a muscle, usually the upper arm.",
}

_ESKETAMINE = """# What happens in a session
You use the esketamine nasal spray yourself, in the clinic, under the supervision of our staff. \
Each device holds 28 mg; you wait 5 minutes between devices. Please do not eat for 2 hours, or drink \
for 30 minutes, before a dose.

# Monitoring
- We measure your blood pressure before the dose and again about 40 minutes after it, and check \
your oxygen level.
- You stay in the clinic for at least 2 hours after the dose, with a prescriber on site, until a \
clinician confirms you are ready to leave.
- You must not drive or operate machinery until the next day after a night's sleep, so someone \
else must take you home.
- Esketamine is supplied only to certified treatment settings; it is never given to take home."""

_HOME = """# What happens in home treatment
Home treatment is an explicit decision by your prescriber, with its own safeguards; it is not the \
usual way ketamine is given. You dissolve the prescribed lozenge (troche) under your tongue, at the \
dose and times on your plan, and no more.

# Home-use safeguards
- A treatment monitor (a responsible adult you name) is with you for every dose and until the \
effects have passed.
- Take each dose sitting or lying down in a safe, quiet place; never before driving, cycling, \
swimming, bathing or using machinery, and not again until the next day after a night's sleep.
- Check in with the clinic as agreed (daily while you are starting) and complete your weekly \
questionnaires (PHQ-9 and GAD-7).
- Keep the medicine locked away from children and others; never share it. Doses may be sent in \
stages, each released after your prescriber reviews the last.
- Do not combine it with alcohol or with sedating medicines your clinician has not approved.
- Your plan is reviewed regularly, and we may stop home treatment if it is not safe."""

_CLOSING = """# Alternatives
Other options include antidepressant medicines, talk therapies, transcranial magnetic stimulation \
(TMS), electroconvulsive therapy (ECT), or no new treatment. Your clinician can discuss them with you.

# Your choice
Taking part is voluntary. You may withdraw your consent at any time, before or during the course \
of treatment, without affecting the rest of your care. Tell any member of staff, or use the patient \
portal.

# If you need help now
If you are thinking about harming yourself or are in danger, get help straight away:
{crisis}"""


def _crisis_lines(resources: Iterable[Mapping[str, str]]) -> str:
    lines = [f"- {r.get('label', '').strip()}: {r.get('contact', '').strip()}".rstrip(": ")
             for r in resources if (r.get("label") or r.get("contact"))]
    return "\n".join(lines) or "- Call your local emergency number."


def sample_wording(route: str, setting: str, crisis: Iterable[Mapping[str, str]]) -> tuple[str, str]:
    """(title, body) of the sample wording for a route and setting, with the clinic's crisis resources."""
    title = TITLES.get((route, setting), "Consent to ketamine treatment")
    if route == "esketamine":
        middle = _ESKETAMINE
    elif setting == "home":
        middle = _HOME
    else:
        middle = _IN_CLINIC.format(session=_SESSIONS.get(route, ""))
    closing = _CLOSING.format(crisis=_crisis_lines(crisis))
    parts = [_INTRO.format(mark=SAMPLE_MARK), middle, _SIDE_EFFECTS, closing]
    return title, "\n\n".join(parts)
