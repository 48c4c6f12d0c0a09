"""What ``callcore demo`` adds for the browser: sign-in accounts for one simulated operator and a supervisor,
a department directory, and a support script in sections, so a newcomer can watch the demo's calls on the
desktop and the wallboard."""

from __future__ import annotations

from callcore.store.db import Database
from callcore.web import accounts, records

OPERATOR_PASSWORD = "demo-operator"
SUPERVISOR = "supervisor"
SUPERVISOR_PASSWORD = "demo-supervisor"
SUPERVISOR_ENDPOINT = "PJSIP/supervisor"

SUPPORT_SCRIPT = """[greeting]
Hello {caller_name}, thank you for calling support. My name is {agent_name}, how can I help?
[questions]
May I have your contract or order number?
What exactly happened, and since when?
[answers]
Refunds reach the card within 5 working days.
A technician visit can be booked for the next working day.
[closing]
Is there anything else I can do for you? Thank you for calling, {caller_name}.
[difficult]
I understand this is frustrating; I am here to solve it with you.
I will register a complaint now, and you will get its number.
If the language continues I will have to end the call; I would rather help you."""


async def seed(pool: Database, operator: str) -> None:
    from callcore.directory import store

    await accounts.set_password(pool, operator, "agent", OPERATOR_PASSWORD)
    await accounts.set_password(pool, SUPERVISOR, "supervisor", SUPERVISOR_PASSWORD, endpoint=SUPERVISOR_ENDPOINT)
    await store.update_queue(pool, "support", {"script": SUPPORT_SCRIPT})
    await records.save_department(pool, {"name": "Sales", "phone": "+15550100100", "hours": "Mon-Sat 8-20",
                                         "transfer_queue": "sales"})
    await records.save_department(pool, {"name": "Billing", "phone": "+15550100200", "hours": "Mon-Fri 9-18"})
    await records.save_department(pool, {"name": "Legal", "phone": "+15550100300", "hours": "Mon-Fri 10-17"})


def addresses(port: int, operator: str) -> str:
    base = f"http://127.0.0.1:{port}"
    return (f"operator desktop:     {base}/desktop   (sign in as {operator} / {OPERATOR_PASSWORD})\n"
            f"supervisor wallboard: {base}/wallboard (sign in as {SUPERVISOR} / {SUPERVISOR_PASSWORD})")
