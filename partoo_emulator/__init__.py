"""A local stand-in for Partoo's REST API v2 (GET /v2/conversations and GET /v2/messages).

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
  POST /_emulator/settings         JSON with any of latency_ms, fault_rate, faults, rate_limit, order, live_every
  POST /_emulator/add_messages     {"conversation_ids": [...], "count": 1}  new messages, newest dates
  POST /_emulator/add_conversation {"business_index": 0, "messages": 2}     returns {"id": ...}
  POST /_emulator/delete_conversation {"id": ...}                           its messages then 404
  GET  /_emulator/expected?stream=conversations|messages[&business__in=...]  every record that exists now,
                                   and the ids of the deleted conversations, for tests

The conversation list's order is a flag (--order newest|oldest|shuffled; newest activity first by default,
as an inbox lists it), and --live-every N makes the inbox live: one change (a new message dated now in a
busy or a quiet conversation, a new conversation, a deletion) every N API requests, while a sync reads it.
Cursors are positions in the list, like Partoo's: a list that changes while it is paged shifts under them.
"""
