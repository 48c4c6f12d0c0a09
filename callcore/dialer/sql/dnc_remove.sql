DELETE FROM dnc WHERE phone_e164 = ANY($1::text[]) RETURNING phone_e164
