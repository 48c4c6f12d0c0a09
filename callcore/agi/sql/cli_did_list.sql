SELECT did, queue, priority, language, after_hours_queue, note, created_at
FROM did_routes
ORDER BY did
