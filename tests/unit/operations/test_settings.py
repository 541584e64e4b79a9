"""The settings schema (connector/operations/settings.py): every setting a module reads can be
set, and a wrong value is refused naming the setting."""

from __future__ import annotations

from connector.operations.settings import source_setting_problems, tenant_setting_problems


def test_bigcommerce_order_read_settings_are_known_and_checked() -> None:
    assert tenant_setting_problems({"bc_order_reads": "embedded",
                                    "bc_read_transactions": "always"}) == []
    assert tenant_setting_problems({"bc_order_reads": "sub_resources",
                                    "bc_read_transactions": "auto"}) == []
    assert source_setting_problems({"bc_order_reads": "sub_resources"}) == []
    wrong = tenant_setting_problems({"bc_order_reads": "embeded", "bc_read_transactions": "no"})
    assert len(wrong) == 2
    assert any("bc_order_reads" in p and "embeded" in p for p in wrong)
    assert any("bc_read_transactions" in p for p in wrong)
