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


# docs/partoo.md's worked query (#24): per business and month, the review analytics (average rating, the
# share of reviews answered within 24 hours) next to the conversations started that month and how many a
# person of the business answered. review_metrics_daily's day is the reviews' update day (UTC); a month's
# average rating is its days' averages weighted by their reviews.
MONTHLY_REVIEWS_AND_CONVERSATIONS = """
WITH reviews AS (
    SELECT business_id, CAST(date_trunc('month', CAST(date AS DATE)) AS DATE) AS month,
           SUM(reviews_count) AS reviews,
           SUM(average_rating * reviews_count) / NULLIF(SUM(reviews_count) FILTER (WHERE average_rating IS NOT NULL), 0)
               AS average_rating,
           SUM(CAST(json_extract(reply_time, '$.fast') AS INTEGER)) AS answered_within_24h,
           SUM(CAST(json_extract(reply_time, '$.total') AS INTEGER)) AS reply_total
    FROM {schema}.review_metrics_daily
    GROUP BY 1, 2
), answered AS (
    SELECT conversation_id FROM {schema}.messages WHERE sender_type = 'User' GROUP BY 1
), conversations AS (
    SELECT json_extract_string(c.business, '$.id') AS business_id,
           CAST(date_trunc('month', c.created_at) AS DATE) AS month,
           COUNT(*) AS conversations, COUNT(a.conversation_id) AS answered
    FROM {schema}.conversations AS c LEFT JOIN answered AS a ON a.conversation_id = c.id
    GROUP BY 1, 2
)
SELECT b.name, COALESCE(r.month, c.month) AS month,
       COALESCE(r.reviews, 0) AS reviews, ROUND(r.average_rating, 2) AS average_rating,
       ROUND(100.0 * r.answered_within_24h / NULLIF(r.reply_total, 0), 1) AS pct_answered_within_24h,
       COALESCE(c.conversations, 0) AS conversations, COALESCE(c.answered, 0) AS conversations_answered
FROM reviews AS r
FULL JOIN conversations AS c ON c.business_id = r.business_id AND c.month = r.month
JOIN {schema}.businesses AS b ON b.id = COALESCE(r.business_id, c.business_id)
ORDER BY month DESC, b.name
"""

MONTHLY_NEEDED = ("businesses", "review_metrics_daily", "conversations", "messages")


def reviews_and_conversations_per_month(con: Any, schema: str, limit: int = 12) -> List[str]:
    """The summary's lines for MONTHLY_REVIEWS_AND_CONVERSATIONS (its latest `limit` rows)."""
    from sqlalchemy import text

    tables = {row[0] for row in con.execute(text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"), {"schema": schema})}
    missing = [name for name in MONTHLY_NEEDED if name not in tables]
    if missing:
        return [f"Reviews and conversations per business and month: not loaded ({', '.join(missing)} missing)."]
    lines = ["Reviews and conversations per business and month (latest first):",
             f"  {'business':<20} {'month':<8} {'reviews':>7} {'avg rating':>10} {'% <24h':>7} {'conversations':>13} {'answered':>8}"]
    rows = con.execute(text(MONTHLY_REVIEWS_AND_CONVERSATIONS.format(schema=schema))).fetchall()
    rows.sort(key=lambda row: not (row[2] and row[5]))  # months with both reviews and conversations first (stable)
    for name, month, reviews, average, within, conversations, answered in rows[:limit]:
        rating = "-" if average is None else f"{average:.2f}"
        share = "-" if within is None else f"{within:.1f}"
        lines.append(f"  {str(name)[:20]:<20} {str(month)[:7]:<8} {reviews:>7} {rating:>10} {share:>7} {conversations:>13} {answered:>8}")
    return lines
