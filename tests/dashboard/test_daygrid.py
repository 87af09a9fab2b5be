from dashboard.templatetags.daygrid import day_cells


def test_gaps_show_as_missing_days() -> None:
    cells = day_cells(
        [
            {"date": "2026-11-13", "status": "synced", "sync_times": ["x"]},
            {"date": "2026-11-16", "status": "synced"},
            {"date": "garbage"},
        ]
    )
    assert [(c["date"], c["status"]) for c in cells] == [
        ("2026-11-13", "synced"),
        ("2026-11-14", "missing"),
        ("2026-11-15", "missing"),
        ("2026-11-16", "synced"),
    ]
    assert day_cells(None) == [] and day_cells([]) == []
