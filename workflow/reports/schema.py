"""Indexes the report queries lean on, declared on the shared tables (created by migration 0008_reports).

- requests by filing time: every report filters on a date range of ``created_at``;
- open assignments by due date: overdue counts and the honest on-time rate;
- completed assignments per unit with their times: the per-unit duration percentiles read only the index.
"""

from __future__ import annotations

from sqlalchemy import Index

from workflow.adapters.orm import assignments, requests

REPORT_INDEXES = (
    Index("ix_requests_created_at", requests.c.created_at),
    Index("ix_assignments_state_due", assignments.c.state, assignments.c.due_at),
    Index(
        "ix_assignments_state_unit_times",
        assignments.c.state,
        assignments.c.unit_id,
        assignments.c.assigned_at,
        assignments.c.completed_at,
    ),
)
