SELECT line, reason, phone_e164, detail FROM upload_rejects ORDER BY line
