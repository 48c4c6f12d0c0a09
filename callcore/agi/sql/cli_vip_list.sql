SELECT number, priority, name, created_at
FROM vip_callers
ORDER BY priority DESC, number
