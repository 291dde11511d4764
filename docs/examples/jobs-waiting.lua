-- Runs with EVAL_RO (read-only) at every scrape; returns name, value pairs.
-- Keys are named here, so the exporter's ACL user needs LLEN on them.
local total = 0
for _, queue in ipairs({'email', 'billing'}) do
  total = total + redis.call('LLEN', 'bull:' .. queue .. ':wait')
end
return {'jobs_waiting_total', tostring(total)}
