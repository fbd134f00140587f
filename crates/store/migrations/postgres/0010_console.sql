-- Console logins: a person's name and an argon2id hash of their password
-- (PHC string). Logging in opens a session, which is a short-lived token
-- with the login's role and scope, so revocation and audit work as for
-- every token.
CREATE TABLE console_logins (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'driver', 'planner')),
    vehicle_id BIGINT REFERENCES vehicles (id),
    service_id BIGINT REFERENCES services (id),
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

-- Why a booking was cancelled, as the operator recorded it.
ALTER TABLE bookings ADD COLUMN cancel_reason TEXT;

-- A console session is a token opened from another token or from a login;
-- it stops when its parent token is revoked or its login disabled.
ALTER TABLE tokens ADD COLUMN parent_id BIGINT REFERENCES tokens (id);
ALTER TABLE tokens ADD COLUMN login_id BIGINT REFERENCES console_logins (id);
