"""A local stand-in for Partoo's REST API v2: GET /v2/conversations and /v2/messages (messaging.py), and
/v2/business/search (businesses.py), /v2/reviews (reviews.py), /v2/user/search (users.py), /v2/sections,
/v2/sections/{id}, /v2/sections/{id}/groups/{id} (groups.py), /v2/org/search and /v2/custom_fields
(orgs.py), /v2/review_analytics/metrics, /v2/presence_analytics/metrics and /v2/presence_analytics/keywords
(analytics.py), /v2/posts (posts.py), /v2/publisher_states (listings.py), /v2/feedback/feedback_result and
/v2/feedback/feedback_form (feedback.py), /v2/messaging/templates (templates.py), behind one dispatch
table (areas.py) and one HTTP, key, fault and rate-limit machinery (server.py); the search pagination
{page, max_page, count, <list>} is pages.py. Each area module's docstring says which readings of what
the docs leave open it serves.

Test and demo tooling only: it never ships in the connector image and the connector never imports it.
Standard library only, so it runs from any Python 3.11.

    python -m partoo_emulator --port 0 --conversations 3000

prints its base URL (http://127.0.0.1:PORT/v2) on the first line of stdout, then serves until stopped.

Data is deterministic for a given --seed: every conversation and message is computed from
(seed, conversation id, message index), so even 100,000 conversations cost little memory.

Faithful behaviour: x-APIKey (401 with Partoo's body), keys limited to some businesses (403 when a
request names another), per_page outside 1..100 -> 400, opaque cursors rejected (400) when reused with
other filters, business__in, a per-minute sliding-window limit answering 429 with Retry-After, latency,
and faults switched by flags. Control endpoints under /_emulator/ (no key needed):
  GET  /_emulator/stats            request counts, 429s sent, faults injected, peak concurrency
  POST /_emulator/reset_stats
  POST /_emulator/settings         JSON with any of latency_ms, fault_rate, faults, rate_limit, order, live_every,
                                   ignore_per_page, stuck_page, growing_max_page, presence_rows
  POST /_emulator/add_messages     {"conversation_ids": [...], "count": 1}  new messages, newest dates
  POST /_emulator/add_conversation {"business_index": 0, "messages": 2}     returns {"id": ...}
  POST /_emulator/delete_conversation {"id": ...}                           its messages then 404
  GET  /_emulator/expected?stream=conversations|messages[&business__in=...]  every record that exists now,
                                   and the ids of the deleted conversations, for tests
       (also stream=businesses|reviews|review_replies|users|group_sections|groups|organizations|custom_fields)
  POST /_emulator/touch_business  {"index": 0}                       modified = now
  POST /_emulator/add_reply       {"review_id": 7, "bump": true}     bump: the review's update_date moves
  POST /_emulator/delete_review   {"id": 5}   /restore_review {"id": 5}  state, delete_date, update_date
  POST /_emulator/add_review      {"business_index": 0, "late_hours": 20}  reaches Partoo late
  POST /_emulator/analytics_today {"date": "2025-03-10"}  the analytics' today ({"date": null}: the real one)
  POST /_emulator/add_post        {"business_id": "..."}   /delete_posts_of_business {"business_id": "..."}
  POST /_emulator/set_publisher_state {"business_id", "publisher", "state", "error_type"}
  POST /_emulator/treat_feedback  {"id": 70001}            state treated, one more comment
       (expected streams also: review_metrics_daily, presence_metrics_daily, presence_keywords_monthly with
        since/until dates, posts, publisher_states, feedback_results, feedback_forms, message_templates)

The conversation list's order is a flag (--order newest|oldest|shuffled; newest activity first by default,
as an inbox lists it), and --live-every N makes the inbox live: one change (a new message dated now in a
busy or a quiet conversation, a new conversation, a deletion) every N API requests, while a sync reads it.
Cursors are positions in the list, like Partoo's: a list that changes while it is paged shifts under them.

Beyond Messages: every status of businesses (status defaults to open), epoch dates for businesses and
users, ISO dates with offsets for reviews, replies as an object, an array or null with nested replies,
deleted reviews listed only when state__in asks for them, modified__gte and update_date__gte filters,
per_page 1..100, keys without a product (--key-without-product KEY:reviews,presence,posts,feedback) or with a role
(--key-role KEY:PUBLISHER) answering 403 per endpoint, and pagination faults (--ignore-per-page,
--stuck-page, --growing-max-page; also POST /_emulator/settings); the presence metrics' row shape is a
switch too (--presence-rows keys|dimensions; also POST /_emulator/settings {"presence_rows": ...}).
"""
