-- provedge source of truth. Constraints live here so no code path can bypass them.
PRAGMA foreign_keys = ON;

CREATE TABLE IF NOT EXISTS tenants (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    realm         TEXT NOT NULL CHECK (length(realm) BETWEEN 1 AND 253),
    sip_server    TEXT NOT NULL CHECK (length(sip_server) BETWEEN 1 AND 253),
    sip_port      INTEGER NOT NULL DEFAULT 5060 CHECK (sip_port BETWEEN 1 AND 65535),
    sip_transport TEXT NOT NULL DEFAULT 'udp' CHECK (sip_transport IN ('udp', 'tcp', 'tls')),
    timezone      TEXT NOT NULL DEFAULT 'UTC',
    ntp_server    TEXT NOT NULL DEFAULT 'pool.ntp.org',
    language      TEXT NOT NULL DEFAULT 'English',
    url_key       TEXT NOT NULL UNIQUE,  -- unguessable path segment of the provisioning URL
    pnp           INTEGER NOT NULL DEFAULT 1 CHECK (pnp IN (0, 1)),  -- answer PnP SUBSCRIBEs
    vars          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(vars)),  -- custom template vars
    -- provisioning URLs by the edge's public name, or its public address (edge_public_ip)
    provision_mode TEXT NOT NULL DEFAULT 'fqdn' CHECK (provision_mode IN ('fqdn', 'public_ip')),
    -- own files a MAC may fetch between counter resets (NULL: no limit; formats/limits.py)
    provision_limit INTEGER CHECK (provision_limit IS NULL OR provision_limit >= 1),
    -- the hot-desking PIN of its phones that have none of their own (control/domain/hotdesk.py)
    hotdesk_pin TEXT NOT NULL DEFAULT '',
    -- how the edge hands a device its files (provedge/formats/delivery.py, docs/delivery.md)
    delivery_policy TEXT NOT NULL DEFAULT 'keyed_url' CHECK (delivery_policy IN ('keyed_url',
        'device_credentials', 'keyed_url+ua_mac_match', 'device_credentials+ua_mac_match')),
    rev           INTEGER NOT NULL DEFAULT 1,  -- as devices.rev, for the tenant's common files
    published_rev INTEGER NOT NULL DEFAULT 0,
    ahead_since   REAL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),  -- see "Ahead of LMDB"
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE IF NOT EXISTS devices (
    mac            TEXT PRIMARY KEY CHECK (length(mac) = 12 AND mac NOT GLOB '*[^0-9a-f]*'),
    tenant_id      INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    model          TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    admin_password TEXT NOT NULL,
    -- its background image (control/backgrounds.py), one of its tenant's; NULL: none
    background_id  INTEGER REFERENCES backgrounds(id),
    hotdesk_pin    TEXT NOT NULL DEFAULT '',
    -- the edge's fetch count at the last counter reset: provision_count shows the fetches since
    provision_base INTEGER NOT NULL DEFAULT 0,
    -- its fetch credentials' password (user: the MAC), under device_credentials delivery
    fetch_password TEXT NOT NULL DEFAULT (lower(hex(randomblob(12)))),
    -- the provisioning cycle, random: a counter reset draws a new one (the first stage
    -- again), and a device removed and added again never meets its old cycle's claim
    delivery_cycle INTEGER NOT NULL DEFAULT (random() & 9223372036854775807),
    -- its own custom template (control/publish/custom.py); NULL: the tenant's choice
    template_id    INTEGER REFERENCES templates(id) ON DELETE SET NULL,
    -- why its files could not be rendered at the last publish ('': they were)
    render_error   TEXT NOT NULL DEFAULT '',
    vars           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(vars)),  -- its own var values
    rev            INTEGER NOT NULL DEFAULT 1,  -- bumped by every change that alters its files
    published_rev  INTEGER NOT NULL DEFAULT 0,  -- rev last written to LMDB; lower = publish again
    ahead_since    REAL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),  -- see "Ahead of LMDB"
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    -- how many device_lines rows it has, kept by the triggers below (filter=assigned: > 0)
    line_count     INTEGER NOT NULL DEFAULT 0,
    -- copies of the edge state's fetch record for sorting the list, refreshed by
    -- control/fetchmirror.py (seconds behind); the views read the edge state itself:
    -- the last fetch (0: never) and the fetches since provision_base
    last_fetch_us  INTEGER NOT NULL DEFAULT 0,
    provision_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS devices_tenant ON devices(tenant_id);
-- the devices that show a background: a delete is refused while there are any
CREATE INDEX IF NOT EXISTS devices_background ON devices(background_id) WHERE background_id IS NOT NULL;

-- A tenant's background images (control/backgrounds.py): the upload as sent, checked by
-- Pillow; the publisher writes it scaled to every screen size (owner background/<id>).
-- The same image twice in a tenant is one background (UNIQUE). A device's background_id
-- has no ON DELETE: deleting one that devices show fails unless they are cleared first.
CREATE TABLE IF NOT EXISTS backgrounds (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    sha256        TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    content_type  TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    width         INTEGER NOT NULL CHECK (width > 0),
    height        INTEGER NOT NULL CHECK (height > 0),
    size          INTEGER NOT NULL CHECK (size > 0),
    image         BLOB NOT NULL,
    rev           INTEGER NOT NULL DEFAULT 1,  -- as devices.rev, for its scaled files
    published_rev INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (tenant_id, sha256)
);
CREATE INDEX IF NOT EXISTS backgrounds_unpublished ON backgrounds(published_rev) WHERE published_rev < rev;
-- Each tenant's devices and assigned devices (line_count > 0), kept by the triggers below:
-- the list's total without a search is one row, not a count of a million index entries.
-- db.py fills it once for a database made before it.
CREATE TABLE IF NOT EXISTS device_counts (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    devices   INTEGER NOT NULL DEFAULT 0,
    assigned  INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER IF NOT EXISTS device_counts_insert AFTER INSERT ON devices BEGIN
    INSERT INTO device_counts (tenant_id, devices, assigned) VALUES (new.tenant_id, 1, new.line_count > 0)
    ON CONFLICT (tenant_id) DO UPDATE SET devices = devices + 1, assigned = assigned + (new.line_count > 0);
END;
CREATE TRIGGER IF NOT EXISTS device_counts_delete AFTER DELETE ON devices BEGIN
    UPDATE device_counts SET devices = devices - 1, assigned = assigned - (old.line_count > 0)
    WHERE tenant_id = old.tenant_id;
END;
CREATE TRIGGER IF NOT EXISTS device_counts_update AFTER UPDATE OF line_count, tenant_id ON devices
WHEN (old.line_count > 0) IS NOT (new.line_count > 0) OR old.tenant_id IS NOT new.tenant_id BEGIN
    UPDATE device_counts SET devices = devices - 1, assigned = assigned - (old.line_count > 0)
    WHERE tenant_id = old.tenant_id;
    INSERT INTO device_counts (tenant_id, devices, assigned) VALUES (new.tenant_id, 1, new.line_count > 0)
    ON CONFLICT (tenant_id) DO UPDATE SET devices = devices + 1, assigned = assigned + (new.line_count > 0);
END;

-- The device list (control/devicelist.py): one index per sort key, within a tenant and
-- over all tenants, each ending in the MAC that breaks ties, so that a keyset page is a
-- range of one index. The MAC, model and name ones also hold what a count's checks read
-- (line_count for the filter, the model for the name part of a search): a total is then
-- counted from the index alone. Without a search the total is device_counts' row.
CREATE INDEX IF NOT EXISTS devices_by_mac ON devices(tenant_id, mac, line_count);
CREATE INDEX IF NOT EXISTS devices_by_name ON devices(tenant_id, name COLLATE NOCASE, mac, model, line_count);
CREATE INDEX IF NOT EXISTS devices_by_model ON devices(tenant_id, model, mac, line_count);
CREATE INDEX IF NOT EXISTS devices_by_created_at ON devices(tenant_id, created_at, mac);
CREATE INDEX IF NOT EXISTS devices_by_last_fetch ON devices(tenant_id, last_fetch_us, mac);
CREATE INDEX IF NOT EXISTS devices_by_provision_count ON devices(tenant_id, provision_count, mac);
CREATE INDEX IF NOT EXISTS devices_all_by_mac ON devices(mac, line_count);
CREATE INDEX IF NOT EXISTS devices_all_by_name ON devices(name COLLATE NOCASE, mac, model, line_count);
CREATE INDEX IF NOT EXISTS devices_all_by_model ON devices(model, mac, line_count);
CREATE INDEX IF NOT EXISTS devices_all_by_created_at ON devices(created_at, mac);
CREATE INDEX IF NOT EXISTS devices_all_by_last_fetch ON devices(last_fetch_us, mac);
CREATE INDEX IF NOT EXISTS devices_all_by_provision_count ON devices(provision_count, mac);
CREATE INDEX IF NOT EXISTS devices_unpublished ON devices(published_rev) WHERE published_rev < rev;

-- A SIP device account. db.py migrates an older accounts table (schema version 1) to this
-- shape in place. The realm is filled from the tenant's when the account is created.
CREATE TABLE IF NOT EXISTS accounts (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    username         TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    password         TEXT NOT NULL CHECK (length(password) BETWEEN 8 AND 128),
    display_name     TEXT NOT NULL DEFAULT '',
    expires          INTEGER NOT NULL DEFAULT 360 CHECK (expires BETWEEN 60 AND 3600),
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    realm            TEXT NOT NULL CHECK (length(realm) BETWEEN 1 AND 253),
    auth_method      TEXT NOT NULL DEFAULT 'password' CHECK (auth_method IN ('password', 'ip')),
    ip               TEXT,  -- normalised CIDR; required by IP authentication, refused otherwise
    invite_format    TEXT NOT NULL DEFAULT 'username'
                     CHECK (invite_format IN ('username', 'npan', '1npan', 'e164', 'route')),
    outbound_flags   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(outbound_flags)),
    access_rules     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(access_rules)),
    caller_id_name   TEXT NOT NULL DEFAULT '',
    caller_id_number TEXT NOT NULL DEFAULT '',
    owner            TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    description      TEXT NOT NULL DEFAULT '',
    secondary_number TEXT NOT NULL DEFAULT '',
    rev              INTEGER NOT NULL DEFAULT 1,  -- as devices.rev, for its registrar record
    published_rev    INTEGER NOT NULL DEFAULT 0,
    ahead_since      REAL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),  -- "Ahead of LMDB"
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    CHECK ((auth_method = 'ip') = (ip IS NOT NULL)),
    UNIQUE (tenant_id, username)
);
CREATE INDEX IF NOT EXISTS accounts_unpublished ON accounts(published_rev) WHERE published_rev < rev;

-- Search (control/search.py): words of the text fields in accounts_words (unicode61: terms
-- and phrases), their trigrams in accounts_grams (wildcards through LIKE), both external
-- content tables over accounts kept in step by the triggers below; db.py rebuilds them
-- once for a database made before they existed. Ranges and sorting use the B-tree indexes.
CREATE VIRTUAL TABLE IF NOT EXISTS accounts_words USING fts5(
    owner, username, caller_id_name, caller_id_number, email, description, content='accounts', content_rowid='id');
CREATE VIRTUAL TABLE IF NOT EXISTS accounts_grams USING fts5(
    owner, username, caller_id_name, caller_id_number, email, description, content='accounts', content_rowid='id', tokenize='trigram', detail='none');
CREATE TRIGGER IF NOT EXISTS accounts_search_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO accounts_words (rowid, owner, username, caller_id_name, caller_id_number, email, description) VALUES (new.id, new.owner, new.username, new.caller_id_name, new.caller_id_number, new.email, new.description);
    INSERT INTO accounts_grams (rowid, owner, username, caller_id_name, caller_id_number, email, description) VALUES (new.id, new.owner, new.username, new.caller_id_name, new.caller_id_number, new.email, new.description);
END;
CREATE TRIGGER IF NOT EXISTS accounts_search_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO accounts_words (accounts_words, rowid, owner, username, caller_id_name, caller_id_number, email, description)
        VALUES ('delete', old.id, old.owner, old.username, old.caller_id_name, old.caller_id_number, old.email, old.description);
    INSERT INTO accounts_grams (accounts_grams, rowid, owner, username, caller_id_name, caller_id_number, email, description)
        VALUES ('delete', old.id, old.owner, old.username, old.caller_id_name, old.caller_id_number, old.email, old.description);
END;
CREATE TRIGGER IF NOT EXISTS accounts_search_update
AFTER UPDATE OF owner, username, caller_id_name, caller_id_number, email, description ON accounts BEGIN
    INSERT INTO accounts_words (accounts_words, rowid, owner, username, caller_id_name, caller_id_number, email, description)
        VALUES ('delete', old.id, old.owner, old.username, old.caller_id_name, old.caller_id_number, old.email, old.description);
    INSERT INTO accounts_grams (accounts_grams, rowid, owner, username, caller_id_name, caller_id_number, email, description)
        VALUES ('delete', old.id, old.owner, old.username, old.caller_id_name, old.caller_id_number, old.email, old.description);
    INSERT INTO accounts_words (rowid, owner, username, caller_id_name, caller_id_number, email, description) VALUES (new.id, new.owner, new.username, new.caller_id_name, new.caller_id_number, new.email, new.description);
    INSERT INTO accounts_grams (rowid, owner, username, caller_id_name, caller_id_number, email, description) VALUES (new.id, new.owner, new.username, new.caller_id_name, new.caller_id_number, new.email, new.description);
END;
CREATE INDEX IF NOT EXISTS accounts_by_owner ON accounts(tenant_id, owner COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS accounts_by_username ON accounts(tenant_id, username COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS accounts_by_caller_id_name ON accounts(tenant_id, caller_id_name COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS accounts_by_caller_id_number ON accounts(tenant_id, caller_id_number COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS accounts_by_email ON accounts(tenant_id, email COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS accounts_by_description ON accounts(tenant_id, description COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS accounts_by_expires ON accounts(tenant_id, expires, id);
CREATE INDEX IF NOT EXISTS accounts_by_created_at ON accounts(tenant_id, created_at COLLATE NOCASE, id);

-- One-time activation links of wizard-created accounts: the token is shown once (in the
-- link), only its sha256 is kept. Used or past expires_at (unix seconds): 410, no change.
CREATE TABLE IF NOT EXISTS activations (
    token_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    expires_at REAL NOT NULL,
    used_at    TEXT
);
CREATE INDEX IF NOT EXISTS activations_account ON activations(account_id);

CREATE TABLE IF NOT EXISTS extensions (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number       TEXT NOT NULL CHECK (length(number) BETWEEN 1 AND 32),
    display_name TEXT NOT NULL DEFAULT '',
    UNIQUE (tenant_id, number)
);

-- An extension may have several SIP accounts; the first (position 1) is the line's identity.
CREATE TABLE IF NOT EXISTS extension_accounts (
    extension_id INTEGER NOT NULL REFERENCES extensions(id) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL CHECK (position >= 1),
    PRIMARY KEY (extension_id, account_id),
    UNIQUE (extension_id, position)
);
-- The devices of an account (the shared-account warning of every device page): without
-- it each page scanned every device line.
CREATE INDEX IF NOT EXISTS extension_accounts_account ON extension_accounts(account_id);

-- One MAC carries up to 6 extensions: the position CHECK is that rule.
-- label: what the phone shows for the line (empty: the extension number); db.py adds the
-- column to a database made before it existed.
CREATE TABLE IF NOT EXISTS device_lines (
    mac          TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    position     INTEGER NOT NULL CHECK (position BETWEEN 1 AND 6),
    extension_id INTEGER NOT NULL REFERENCES extensions(id) ON DELETE CASCADE,
    label        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (mac, position)
);
CREATE INDEX IF NOT EXISTS device_lines_extension ON device_lines(extension_id);
CREATE TRIGGER IF NOT EXISTS device_lines_count_insert AFTER INSERT ON device_lines BEGIN
    UPDATE devices SET line_count = line_count + 1 WHERE mac = new.mac;
END;
CREATE TRIGGER IF NOT EXISTS device_lines_count_delete AFTER DELETE ON device_lines BEGIN
    UPDATE devices SET line_count = line_count - 1 WHERE mac = old.mac;
END;
CREATE TRIGGER IF NOT EXISTS device_lines_count_update AFTER UPDATE OF mac ON device_lines BEGIN
    UPDATE devices SET line_count = line_count - 1 WHERE mac = old.mac;
    UPDATE devices SET line_count = line_count + 1 WHERE mac = new.mac;
END;

-- A MAC's programmable keys after its lines (BLF on an extension of the same tenant);
-- control/domain/keys.py places key N on the phone's key (lines + N).
CREATE TABLE IF NOT EXISTS device_keys (
    mac          TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    position     INTEGER NOT NULL CHECK (position BETWEEN 1 AND 10),
    kind         TEXT NOT NULL DEFAULT 'blf' CHECK (kind IN ('blf')),
    extension_id INTEGER NOT NULL REFERENCES extensions(id) ON DELETE CASCADE,
    label        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (mac, position)
);
CREATE INDEX IF NOT EXISTS device_keys_extension ON device_keys(extension_id);

-- API tokens (control/api/auth.py). Its id is the first 12 hex digits of the hash; an
-- end_user token is bound to one account (and goes with it). expires_at: unix seconds,
-- NULL for never; last_used_at is written coalesced (control/api/lastuse.py). db.py adds
-- the columns after label to a database made before they existed; the rules on them are
-- enforced by auth.py there.
CREATE TABLE IF NOT EXISTS tokens (
    token_hash   TEXT PRIMARY KEY,  -- sha256 of the token; the token itself is shown once
    role         TEXT NOT NULL CHECK (role IN ('operator', 'tenant_admin', 'end_user')),
    tenant_id    INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
    label        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    account_id   INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    expires_at   REAL,
    last_used_at TEXT,
    CHECK (role = 'operator' OR tenant_id IS NOT NULL),
    CHECK ((role = 'end_user') = (account_id IS NOT NULL))
);

CREATE TABLE IF NOT EXISTS settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Bans an operator made by hand, and lifts (edge bans made at or before `lifted_at` end);
-- both are published for the edge (provedge/formats/firewall.py). Times: epoch seconds.
CREATE TABLE IF NOT EXISTS manual_bans (
    address   TEXT PRIMARY KEY,
    reason    TEXT NOT NULL DEFAULT 'manual',
    banned_at REAL NOT NULL,
    until     REAL NOT NULL CHECK (until > banned_at)
);
CREATE TABLE IF NOT EXISTS ban_lifts (
    address   TEXT PRIMARY KEY,
    lifted_at REAL NOT NULL
);

-- Owners to withdraw from LMDB. The triggers make every delete (of a device, an account, a tenant
-- and everything its cascade removes) queue the withdrawal in the same transaction, so no
-- code path can forget it; the publisher takes them in order under its lock (pending.py).
CREATE TABLE IF NOT EXISTS withdrawals (
    id    INTEGER PRIMARY KEY,
    owner TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS devices_withdraw AFTER DELETE ON devices BEGIN
    INSERT INTO withdrawals (owner) VALUES ('device/' || old.mac);
END;
CREATE TRIGGER IF NOT EXISTS accounts_withdraw AFTER DELETE ON accounts BEGIN
    INSERT INTO withdrawals (owner) VALUES ('account/' || old.id);
END;
CREATE TRIGGER IF NOT EXISTS backgrounds_withdraw AFTER DELETE ON backgrounds BEGIN
    INSERT INTO withdrawals (owner) VALUES ('background/' || old.id);
END;
CREATE TRIGGER IF NOT EXISTS tenants_withdraw AFTER DELETE ON tenants BEGIN
    INSERT INTO withdrawals (owner) VALUES ('tenant/' || old.id);
END;

-- Ahead of LMDB: `ahead_since` (seconds since the epoch) is when a tenant, device or account
-- row last went ahead of LMDB: its insert, or the first change of its files after it was
-- published (`rev` passing `published_rev`); later changes before the publish keep it. The
-- publish lag (control/publish/lag.py) is measured from it. A new row gets it from the
-- column's default; a database made before the column gets it from the insert triggers
-- (ALTER TABLE cannot add a default that is not a constant).
CREATE TRIGGER IF NOT EXISTS tenants_ahead AFTER UPDATE OF rev ON tenants
WHEN OLD.published_rev >= OLD.rev AND NEW.published_rev < NEW.rev BEGIN
    UPDATE tenants SET ahead_since = (julianday('now') - 2440587.5) * 86400.0 WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER IF NOT EXISTS tenants_ahead_new AFTER INSERT ON tenants WHEN NEW.ahead_since IS NULL BEGIN
    UPDATE tenants SET ahead_since = (julianday('now') - 2440587.5) * 86400.0 WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER IF NOT EXISTS devices_ahead AFTER UPDATE OF rev ON devices
WHEN OLD.published_rev >= OLD.rev AND NEW.published_rev < NEW.rev BEGIN
    UPDATE devices SET ahead_since = (julianday('now') - 2440587.5) * 86400.0 WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER IF NOT EXISTS devices_ahead_new AFTER INSERT ON devices WHEN NEW.ahead_since IS NULL BEGIN
    UPDATE devices SET ahead_since = (julianday('now') - 2440587.5) * 86400.0 WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER IF NOT EXISTS accounts_ahead AFTER UPDATE OF rev ON accounts
WHEN OLD.published_rev >= OLD.rev AND NEW.published_rev < NEW.rev BEGIN
    UPDATE accounts SET ahead_since = (julianday('now') - 2440587.5) * 86400.0 WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER IF NOT EXISTS accounts_ahead_new AFTER INSERT ON accounts WHEN NEW.ahead_since IS NULL BEGIN
    UPDATE accounts SET ahead_since = (julianday('now') - 2440587.5) * 86400.0 WHERE rowid = NEW.rowid;
END;

-- Long work (mass recompile, later bulk import and reboot waves), run by control/jobs.
-- `state` running at start-up means the process died mid-job: the runner resumes it.
CREATE TABLE IF NOT EXISTS jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    tenant_id        INTEGER REFERENCES tenants(id) ON DELETE CASCADE,  -- NULL: all tenants
    params           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    done             INTEGER NOT NULL DEFAULT 0 CHECK (done >= 0),
    total            INTEGER NOT NULL DEFAULT 0 CHECK (total >= 0),
    error_count      INTEGER NOT NULL DEFAULT 0,
    errors           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(errors)),  -- first 100
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at       TEXT,
    finished_at      TEXT,
    -- rate and ETA are measured over the current run (since start or resume), so a
    -- resumed job does not count the time the process was down
    run_started      REAL,
    run_done         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);

-- Console log-ins (control/console/sessions.py): the cookie holds a random id, only its hash
-- is kept; the session acts with the token it was opened with, so revoking or deleting that
-- token ends the session.
CREATE TABLE IF NOT EXISTS console_sessions (
    id_hash    TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL REFERENCES tokens(token_hash) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    expires_at REAL NOT NULL  -- epoch seconds
);

-- The audit trail (control/storage/audit.py): one row per changed row of an audited table,
-- written by temporary triggers on the writer connection in the same transaction as the
-- change. No foreign keys: the trail outlives what it names. before/after are JSON with
-- secrets masked; `at` sorts as text.
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor_role  TEXT NOT NULL,
    actor_label TEXT NOT NULL,
    actor_token TEXT NOT NULL DEFAULT '',
    tenant_id   INTEGER,
    object      TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    before      TEXT CHECK (before IS NULL OR json_valid(before)),
    after       TEXT CHECK (after IS NULL OR json_valid(after))
);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit(tenant_id, id);
CREATE INDEX IF NOT EXISTS audit_by_object ON audit(object, id);
CREATE INDEX IF NOT EXISTS audit_by_at ON audit(at);

-- One row per device of a reboot/re-sync job (control/reboots.py): its wave, when the wave
-- was published, and what became of it (the edge's report, then rebooted/resynced).
CREATE TABLE IF NOT EXISTS reboot_targets (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL CHECK (seq >= 0),
    mac          TEXT NOT NULL,
    wave         INTEGER NOT NULL CHECK (wave >= 0),
    published_at REAL,
    state        TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'published',
                 'sent', 'accepted', 'rejected', 'timeout', 'not_registered', 'rebooted',
                 'resynced')),
    status       INTEGER,  -- the phone's SIP status, when it answered
    detail       TEXT NOT NULL DEFAULT '',
    contact      TEXT,     -- the binding the NOTIFY went to
    sent_at      REAL,
    settled      INTEGER NOT NULL DEFAULT 0 CHECK (settled IN (0, 1)),
    settled_at   REAL,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX IF NOT EXISTS reboot_targets_open ON reboot_targets(job_id, settled);

-- An operator's template for one shipped file of a vendor, or of one model of it
-- (control/publish/custom.py). is_default: the tenant's choice for that vendor/model and
-- file (at most one each); a device may name any fitting one (devices.template_id).
CREATE TABLE IF NOT EXISTS templates (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    vendor     TEXT NOT NULL,
    model      TEXT,  -- NULL: every model of the vendor
    file       TEXT NOT NULL,  -- the shipped template's name: mac.cfg, common.cfg, ...
    engine     TEXT NOT NULL CHECK (engine IN ('default', 'advanced')),
    source     TEXT NOT NULL CHECK (length(source) <= 262144),
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    rev        INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS templates_one_default
    ON templates(tenant_id, vendor, coalesce(model, ''), file) WHERE is_default = 1;
