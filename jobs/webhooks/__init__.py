"""Real-time rescoring from CRM webhooks.

The receiver (`app`, served by `service`) verifies each request and queues the
contact in the state store (`queue`, `tables`). The daemon's drain job
(`drain`) then reads each queued contact from the CRM and rescores it. The
polling sync stays the safety net for any event that never arrives.
"""
