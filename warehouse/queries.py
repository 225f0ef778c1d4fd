"""Queries a Partoo data team runs on the loaded tables, printed by the main job's summary (warehouse/sync.py)."""

from __future__ import annotations

from typing import Any, List

# Reviews per business with their average rating (deleted reviews left out: they are soft deletes), next
# to the business's conversations: the join of Review Management and Messages that the connector enables.
REVIEWS_AND_CONVERSATIONS_PER_BUSINESS = """
WITH reviews AS (
    SELECT business_id, COUNT(*) AS reviews, AVG(rating) AS average_rating
    FROM {schema}.reviews
    WHERE state IS DISTINCT FROM 'deleted'
    GROUP BY business_id
), conversations AS (
    SELECT json_extract_string(business, '$.id') AS business_id, COUNT(*) AS conversations
    FROM {schema}.conversations
    GROUP BY 1
)
SELECT b.name, b.status, COALESCE(r.reviews, 0) AS reviews, ROUND(r.average_rating, 2) AS average_rating,
       COALESCE(c.conversations, 0) AS conversations
FROM {schema}.businesses AS b
LEFT JOIN reviews AS r ON r.business_id = b.id
LEFT JOIN conversations AS c ON c.business_id = b.id
ORDER BY reviews DESC, conversations DESC, b.name
"""

NEEDED = ("businesses", "reviews", "conversations")


def reviews_and_conversations_per_business(con: Any, schema: str) -> List[str]:
    """The summary's lines for the join above, on a SQLAlchemy connection to the cache (DuckDB)."""
    from sqlalchemy import text

    tables = {row[0] for row in con.execute(text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"), {"schema": schema})}
    added = con.execute(text(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = :schema AND column_name LIKE '%\\_utc' ESCAPE '\\' ORDER BY 1"), {"schema": schema}).fetchall()
    lines = ["  timestamps added by the connector (Partoo's own date fields are kept as sent): "
             + ", ".join(f"{column} {kind}" for column, kind in added)] if added else []
    missing = [name for name in NEEDED if name not in tables]
    if missing:
        return lines + [f"Reviews and conversations per business: not loaded ({', '.join(missing)} missing)."]
    lines += ["Reviews and conversations per business (deleted reviews left out):",
              f"  {'business':<20} {'status':<18} {'reviews':>7} {'avg rating':>10} {'conversations':>13}"]
    for name, status, reviews, average, conversations in con.execute(
            text(REVIEWS_AND_CONVERSATIONS_PER_BUSINESS.format(schema=schema))).fetchall():
        rating = "-" if average is None else f"{average:.2f}"
        lines.append(f"  {str(name)[:20]:<20} {str(status):<18} {reviews:>7} {rating:>10} {conversations:>13}")
    return lines
