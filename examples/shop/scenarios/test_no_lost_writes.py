"""No lost writes on PostgreSQL: every order acknowledged before, during or after a fault reads back."""

from harness import Down, Kill
from harness.chaos import Scheduled


def test_no_acknowledged_order_is_lost_when_the_database_link_drops_under_load(mesh, chaos, load):
    ordering = load("order", rate_per_s=8, duration_s=3.0, until_acked=12)
    with chaos.schedule(Scheduled(Down("orders->db"), at=0.5, for_=1.0)) as outage:
        outage.wait(timeout_s=5)
        ordering.wait()

    stats = ordering.window(journey="order")
    assert stats.verdicts.get("full", 0) >= 10, f"too few orders acknowledged to judge: {stats.describe()}"
    assert "order" in chaos.during, "no order was placed while the database was unreachable"
    chaos.assert_contracts()
    assert chaos.assert_no_lost_writes(ordering, "order") >= 10


def test_no_acknowledged_order_is_lost_when_postgres_is_killed_under_load(mesh, chaos, load):
    ordering = load("order", rate_per_s=8, duration_s=4.0, until_acked=12)
    with chaos.schedule(Scheduled(Kill("db"), at=0.5, for_=1.0)) as outage:
        outage.wait(timeout_s=15)
        ordering.wait()

    stats = ordering.window(journey="order")
    assert stats.verdicts.get("full", 0) >= 10, f"too few orders acknowledged to judge: {stats.describe()}"
    chaos.assert_contracts()
    assert chaos.assert_no_lost_writes(ordering, "order") >= 10
