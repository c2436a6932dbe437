"""`avatar batch`: many subjects (a video, or a folder of one person's videos, each) tracked,
trained and evaluated as Ray tasks, one task per stage per subject, with the same calls as the
single commands (`capture.track.track`, `avatar.api.train`, `avatar.api.evaluate`).

    plan.py     what the subjects are, where each one's outputs go, which stages are finished
    run.py      the stage task (what a Ray worker runs) and the driver that schedules them
    summary.py  summary.json / summary.md of a run (atomic, rewritten at every event)

Ray is imported only by run.py's driver and only when the command runs (the batch extra)."""
