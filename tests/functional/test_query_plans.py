"""No hop scans the artisans table: every statement the menus run against it, captured
while dialing, is explained on PostgreSQL with sequential scans priced out, and the
plan must read it through an index. (With a few demo rows the planner would happily
scan; disabling seq scans asks whether an index *can* serve the query, which is what
500,000 rows need.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tests.functional.test_payment_flows import reference_in
from tests.helpers import Dialer, sql_sent

Captured = list[tuple[str, Any]]


def plans(session: Session, captured: Captured) -> dict[str, str]:
    """The plan of each SELECT or UPDATE that reads the artisans table."""
    connection = session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    found = {}
    for statement, parameters in captured:
        if "artisans" not in statement or not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            continue
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        found[statement] = "\n".join(row[0] for row in rows)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    return found


def test_no_hop_scans_the_artisans_table(dial: type[Dialer], demo: Session) -> None:
    with sql_sent(demo) as captured:
        fatima = dial("+212600000001")
        fatima.start()
        fatima.send("1", "98")  # status, next page
        youssef = dial("+212600000002")
        youssef.start()
        youssef.send("2", "1", "1")
        reference = reference_in(youssef.send("1"))  # a reference issued
        agent = dial("+212700000001")
        agent.start()
        agent.send("1234", "1", reference, "1")  # the agent confirms it
        stranger = dial("+212600000009")
        stranger.start()
        stranger.send("1", "JB123456", "1980")  # identification by CIN
    # The control: a query no index serves is still seen scanning.
    control = "SELECT id FROM artisans WHERE first_name = %(name)s"
    assert "Seq Scan on artisans" in plans(demo, [(control, {"name": "Fatima"})])[control]
    found = plans(demo, captured)
    assert len(found) >= 5, found.keys()  # caller, status, dues, confirmation, identification
    for statement, plan in found.items():
        assert "Seq Scan on artisans" not in plan, f"{statement}\n{plan}"
