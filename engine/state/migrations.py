"""Schema migrations, applied in order; the database's user_version is how many ran.

Append new migrations; never edit one that has shipped.
"""

MIGRATIONS: tuple[str, ...] = (
    # 1: images, layers, tags and containers.
    """
    CREATE TABLE layers (
        id      TEXT PRIMARY KEY,          -- sha256:<hex> of the uncompressed tar (diffID)
        size    INTEGER NOT NULL,          -- bytes of the extracted files
        created TEXT NOT NULL
    );
    CREATE TABLE images (
        id      TEXT PRIMARY KEY,          -- sha256:<hex> of config, as Docker's ids
        config  BLOB NOT NULL,             -- the OCI image config JSON, exact bytes
        created TEXT NOT NULL
    );
    CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,         -- 0 is the base layer
        layer_id TEXT NOT NULL REFERENCES layers(id),
        PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_by_layer ON image_layers(layer_id);
    CREATE TABLE tags (
        name     TEXT PRIMARY KEY,         -- normalized "repository:tag"
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX tags_by_image ON tags(image_id);
    CREATE TABLE containers (
        id          TEXT PRIMARY KEY,      -- 64 hex digits
        name        TEXT NOT NULL UNIQUE,
        image_id    TEXT NOT NULL REFERENCES images(id),
        image_ref   TEXT NOT NULL,         -- what the user typed, shown by ps
        created     TEXT NOT NULL,
        options     TEXT NOT NULL,         -- JSON: the create options
        state       TEXT NOT NULL,         -- created | running | exited
        monitor_pid INTEGER,               -- the process supervising the container
        monitor_start INTEGER,             -- its start time (/proc/PID/stat), against pid reuse
        exit_code   INTEGER,
        restart_count  INTEGER NOT NULL DEFAULT 0,
        stop_requested INTEGER NOT NULL DEFAULT 0,  -- set by stop: no restart policy applies
        started_at  TEXT,
        finished_at TEXT,
        error       TEXT
    );
    CREATE INDEX containers_by_image ON containers(image_id);
    """,
    # 2: whether the OOM killer killed a process of the container in its last run.
    """
    ALTER TABLE containers ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: networks, a running container's attachments (its address leases) and published ports.
    """
    CREATE TABLE networks (
        id       TEXT PRIMARY KEY,         -- 64 hex digits
        name     TEXT NOT NULL UNIQUE,
        subnet   TEXT NOT NULL UNIQUE,     -- CIDR, e.g. 10.89.0.0/24
        gateway  TEXT NOT NULL,            -- the bridge's own address
        bridge   TEXT NOT NULL UNIQUE,     -- host interface name
        internal INTEGER NOT NULL DEFAULT 0,
        cursor   INTEGER NOT NULL DEFAULT 0,  -- host number last leased: the next goes after it
        created  TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        network_id   TEXT NOT NULL REFERENCES networks(id),
        address      TEXT NOT NULL,        -- the lease: unique within the network
        ifname       TEXT NOT NULL,        -- eth0, eth1... inside the container
        host_ifname  TEXT NOT NULL,        -- the veth end on the bridge
        netns        TEXT NOT NULL,        -- the pinned namespace it lives in
        aliases      TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (container_id, network_id),
        UNIQUE (network_id, address)
    );
    CREATE INDEX endpoints_by_network ON endpoints(network_id);
    CREATE TABLE ports (
        container_id   TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        host_ip        TEXT NOT NULL,      -- "" for every host address
        host_port      INTEGER NOT NULL,
        container_port INTEGER NOT NULL,
        protocol       TEXT NOT NULL,      -- tcp | udp
        UNIQUE (host_port, protocol)
    );
    """,
    # 4: the command that creates a container to run it at once ("PID:START", as
    # process_identity names a process): a --rm container it died before starting goes.
    """
    ALTER TABLE containers ADD COLUMN run_by TEXT;
    """,
    # 5: the OCI runtime a container runs with (--runtime): "berth" (its own), or a
    # runtime binary's name or path; every operation on the container uses it.
    """
    ALTER TABLE containers ADD COLUMN runtime TEXT NOT NULL DEFAULT 'berth';
    """,
    # 6: what registries know an image and its layers by: the manifests pulled or pushed
    # (Docker's RepoDigests), and each layer's compressed blobs (Docker's distribution
    # metadata), so a push skips or mounts what a registry has and compresses nothing twice.
    """
    CREATE TABLE repo_digests (
        name       TEXT PRIMARY KEY,       -- familiar "repository@sha256:<hex>"
        image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        manifest   BLOB NOT NULL,          -- the image manifest, exact bytes
        media_type TEXT NOT NULL
    );
    CREATE INDEX repo_digests_by_image ON repo_digests(image_id);
    CREATE TABLE layer_blobs (
        layer_id   TEXT NOT NULL REFERENCES layers(id) ON DELETE CASCADE,
        digest     TEXT NOT NULL,          -- sha256:<hex> of the compressed blob
        media_type TEXT NOT NULL,
        size       INTEGER NOT NULL,
        source     TEXT NOT NULL DEFAULT '', -- "host/repository" it is known to be in
        PRIMARY KEY (layer_id, digest, source)
    );
    """,
    # 7: volumes, and what each container mounts (bind, volume, tmpfs), in mount order.
    # A volume row referenced by a mount is in use: it cannot be removed.
    """
    CREATE TABLE volumes (
        name      TEXT PRIMARY KEY,
        driver    TEXT NOT NULL,           -- "local"
        labels    TEXT NOT NULL,           -- JSON object
        options   TEXT NOT NULL,           -- JSON object: volume create -o (type, device, o)
        created   TEXT NOT NULL,
        anonymous INTEGER NOT NULL,        -- made for one container (-v /path, image VOLUME)
        populated INTEGER NOT NULL DEFAULT 0 -- a container used it: no more copy-up
    );
    CREATE TABLE container_mounts (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,     -- mount order
        spec         TEXT NOT NULL,        -- JSON: the resolved mount (engine/volumes/model.py)
        volume       TEXT REFERENCES volumes(name), -- a volume mount's volume, else NULL
        PRIMARY KEY (container_id, position)
    );
    CREATE INDEX container_mounts_by_volume ON container_mounts(volume);
    """,
    # 8: the build cache: which image a build step made, by the step's key. An untagged
    # image some cached step was built on is an intermediate one (hidden by `images`).
    """
    CREATE TABLE build_cache (
        key         TEXT PRIMARY KEY,      -- sha256 of the parent image, the step and its inputs
        image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        parent_id   TEXT NOT NULL,         -- the image the step ran on
        description TEXT NOT NULL,         -- the step as written ("RUN make")
        created     TEXT NOT NULL,
        last_used   TEXT NOT NULL
    );
    CREATE INDEX build_cache_by_image ON build_cache(image_id);
    CREATE INDEX build_cache_by_parent ON build_cache(parent_id);
    """,
)
