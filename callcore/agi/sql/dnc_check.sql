-- $1: phone number in E.164.
SELECT EXISTS (SELECT 1 FROM dnc WHERE phone_e164 = $1) AS listed
