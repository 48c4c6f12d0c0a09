SELECT name, service_level_threshold FROM queues
