-- The claim's per-webhook probe must walk deliveries_webhook_due. With deliveries_due
-- beside it, the planner (which assumes webhook_id and due_at independent) walked due_at
-- in order filtering on webhook_id, past every overdue row of a listener at capacity:
-- 100 ms per claim with 100,000 rows in retry. The earliest due time is found per
-- webhook through deliveries_webhook_due as well, so the index has no reader left.
DROP INDEX deliveries_due;
