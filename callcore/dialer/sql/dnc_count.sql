SELECT count(*)::bigint FROM dnc
