SELECT phone_e164, source, added_at, note FROM dnc WHERE phone_e164 = ANY($1::text[])
