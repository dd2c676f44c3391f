-- Why a delivery was skipped: 'installation_revoked' (the tenant uninstalled the app:
-- nothing more of its data goes to the partner) or 'reactivated_without_replay'.
ALTER TABLE deliveries ADD COLUMN skip_reason TEXT;
