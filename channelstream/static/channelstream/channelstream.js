/**
 * channelstream browser client.
 *
 * A hand-written ES module (no build step). It keeps the public surface of the
 * Channelstream 0.7 `ChannelStreamConnection`, so a page written for 0.7 works
 * by swapping this file in, and adds:
 *
 * - reconnect with exponential backoff and jitter;
 * - exact resume: the last (epoch, offset) seen on every stream is remembered
 *   and sent as `resume` when a transport is reopened, duplicates are dropped,
 *   and the page is told (`gapCallback`) when the server could not fill a gap;
 * - a fresh `connect()` through the application backend when the server no
 *   longer knows the connection (e.g. after a restart), keeping the offsets;
 * - automatic fallback to long-polling when WebSocket cannot be used;
 * - a status callback: connecting, open, reconnecting, closed.
 *
 * See docs/wire-extensions.md for the offsets, `resume`, `gap` and close codes.
 */

// ---------------------------------------------------------------------------
// Signing (itsdangerous TimestampSigner compatible, HMAC-SHA1)
// ---------------------------------------------------------------------------

/** SHA-1 of a byte array; returns 20 bytes. */
function sha1(bytes) {
    const length = bytes.length;
    // Message + 0x80 + zero padding + 64-bit big-endian bit length, to a multiple of 64.
    const paddedLength = ((length + 9 + 63) >> 6) << 6;
    const buffer = new Uint8Array(paddedLength);
    buffer.set(bytes);
    buffer[length] = 0x80;
    const view = new DataView(buffer.buffer);
    view.setUint32(paddedLength - 8, Math.floor(length / 0x20000000));
    view.setUint32(paddedLength - 4, (length * 8) >>> 0);

    const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
    const w = new Uint32Array(80);
    for (let block = 0; block < paddedLength; block += 64) {
        for (let i = 0; i < 16; i++) {
            w[i] = view.getUint32(block + i * 4);
        }
        for (let i = 16; i < 80; i++) {
            const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
            w[i] = (x << 1) | (x >>> 31);
        }
        let [a, b, c, d, e] = h;
        for (let i = 0; i < 80; i++) {
            let f;
            let k;
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5a827999;
            } else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ed9eba1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8f1bbcdc;
            } else {
                f = b ^ c ^ d;
                k = 0xca62c1d6;
            }
            const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) >>> 0;
            e = d;
            d = c;
            c = ((b << 30) | (b >>> 2)) >>> 0;
            b = a;
            a = t;
        }
        h[0] = (h[0] + a) >>> 0;
        h[1] = (h[1] + b) >>> 0;
        h[2] = (h[2] + c) >>> 0;
        h[3] = (h[3] + d) >>> 0;
        h[4] = (h[4] + e) >>> 0;
    }
    const out = new Uint8Array(20);
    const outView = new DataView(out.buffer);
    h.forEach((word, i) => outView.setUint32(i * 4, word));
    return out;
}

/** HMAC-SHA1 (RFC 2104) over byte arrays. */
function hmacSha1(key, message) {
    const blockSize = 64;
    let k = key.length > blockSize ? sha1(key) : key;
    const padded = new Uint8Array(blockSize);
    padded.set(k);
    const inner = new Uint8Array(blockSize + message.length);
    const outer = new Uint8Array(blockSize + 20);
    for (let i = 0; i < blockSize; i++) {
        inner[i] = padded[i] ^ 0x36;
        outer[i] = padded[i] ^ 0x5c;
    }
    inner.set(message, blockSize);
    outer.set(sha1(inner), blockSize);
    return sha1(outer);
}

/** URL-safe base64 without padding, as itsdangerous writes it. */
function base64UrlNoPad(bytes) {
    let binary = '';
    for (const byte of bytes) {
        binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Big-endian bytes of a non-negative integer, without leading zero bytes. */
function intToBytes(value) {
    const bytes = [];
    while (value > 0) {
        bytes.unshift(value % 256);
        value = Math.floor(value / 256);
    }
    return new Uint8Array(bytes);
}

/**
 * Signs values the way itsdangerous' `TimestampSigner(secret).sign(value)` does
 * (default salt, "django-concat" key derivation, HMAC-SHA1).
 *
 * Only for trusted tools (the admin panel, scripts): a browser page must never
 * hold the server secret, its backend signs server API calls instead.
 */
export class ChannelStreamSigner {
    constructor(secret) {
        this.secret = secret;
    }

    /**
     * Returns `value.timestamp.signature`.
     * @param value {string} the signed value (the server checks only the signature and its age)
     * @param timestamp {number} seconds since the epoch; defaults to now
     */
    sign(value, timestamp) {
        const encoder = new TextEncoder();
        const seconds = timestamp === undefined ? Math.floor(Date.now() / 1000) : timestamp;
        const key = sha1(encoder.encode('itsdangerous.Signer' + 'signer' + this.secret));
        const signed = value + '.' + base64UrlNoPad(intToBytes(seconds));
        const signature = base64UrlNoPad(hmacSha1(key, encoder.encode(signed)));
        return signed + '.' + signature;
    }

    /** The header value 0.7 backends send: a signature of "channelstream". */
    signRequest() {
        return this.sign('channelstream');
    }
}

// ---------------------------------------------------------------------------
// HTTP requests
// ---------------------------------------------------------------------------

/**
 * One AJAX call. Mutators receive this object before it is sent and may change
 * `url`, `body` and `headers` (a list of `{name, value}`).
 */
export class ChannelStreamRequest {
    constructor() {
        this.headers = [];
        this.body = null;
        this.url = '';
        /** The XMLHttpRequest, once executed. */
        this.request = null;
        /** Milliseconds before the request is abandoned (0: never). */
        this.timeout = 0;
        this._aborted = false;
    }

    /** Called with (xhr, parsed body) for a 2xx answer. */
    handleResponse(request, data) {
    }

    /** Called with (xhr, parsed body or text) for anything else, including network errors (status 0). */
    handleError(request, data) {
    }

    /** Called while the request is in progress (0.7 compatibility). */
    handleRequest(request) {
    }

    /**
     * Sends the request.
     * @param verb {string} HTTP method; POST when there is a body, GET otherwise
     */
    execute(verb) {
        const xhr = new XMLHttpRequest();
        this.request = xhr;
        const method = verb || (this.body !== null && this.body !== undefined ? 'POST' : 'GET');
        xhr.open(method, this.url);
        const hasBody = this.body !== null && this.body !== undefined && method !== 'GET';
        if (hasBody) {
            xhr.setRequestHeader('Content-Type', 'application/json');
        }
        for (const header of this.headers || []) {
            xhr.setRequestHeader(header.name, header.value);
        }
        if (this.timeout) {
            xhr.timeout = this.timeout;
        }
        xhr.onreadystatechange = () => {
            if (this._aborted) {
                return;
            }
            if (xhr.readyState !== XMLHttpRequest.DONE) {
                this.handleRequest(xhr);
                return;
            }
            let result = xhr.responseText;
            try {
                result = JSON.parse(result);
            } catch (exc) {
                // not JSON: hand over the text
            }
            if (xhr.status >= 200 && xhr.status < 300) {
                this.handleResponse(xhr, result);
            } else {
                this.handleError(xhr, result);
            }
        };
        xhr.send(hasBody ? JSON.stringify(this.body) : null);
    }

    /** Cancels the request; no handler runs afterwards. */
    abort() {
        this._aborted = true;
        if (this.request) {
            this.request.abort();
        }
    }
}

// ---------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------

/** Values of `ChannelStreamConnection.status`. */
export const ConnectionStatus = Object.freeze({
    CONNECTING: 'connecting',
    OPEN: 'open',
    RECONNECTING: 'reconnecting',
    CLOSED: 'closed',
});

/** Close reasons after which the conn_id is gone and `connect()` must run again. */
const CONNECTION_GONE_REASONS = ['unknown connection', 'disconnected'];

/** Key of the direct-message stream in the remembered offsets. */
const DIRECT = null;

export class ChannelStreamConnection {

    static get version() {
        return '1.0.0';
    }

    constructor() {
        this.debug = false;
        /** Channels the user should be subscribed to (updated from the server's answers). */
        this.channels = [];
        /** Username of the connecting user (sent to `connectUrl`). */
        this.username = 'Anonymous';
        /** Connection id handed out by the server through the application backend. */
        this.connectionId = null;
        /** The current WebSocket, when listening through one. */
        this.websocket = null;
        /** channelstream's `/ws` URL (ws:// or wss://). */
        this.websocketUrl = '';
        /** channelstream's `/listen` URL. */
        this.longPollUrl = '';
        /** Application backend URL used by `connect()`. */
        this.connectUrl = '';
        /** URL used by `disconnect()` (channelstream's `/disconnect`). */
        this.disconnectUrl = '';
        /** Application backend URL used by `subscribe()`. */
        this.subscribeUrl = '';
        /** Application backend URL used by `unsubscribe()`. */
        this.unsubscribeUrl = '';
        /** Application backend URL used by `updateUserState()`. */
        this.userStateUrl = '';
        /** Application backend URL used by `message()`. */
        this.messageUrl = '';
        /** Application backend URL used by `edit()` (PATCH). */
        this.messageEditUrl = '';
        /** Application backend URL used by `delete()` (DELETE). */
        this.messageDeleteUrl = '';
        /** Reconnect after the listening connection is lost. */
        this.shouldReconnect = true;
        /** Send `{"type": "heartbeat"}` on the WebSocket every `heartbeatInterval` ms. */
        this.heartbeats = true;
        /** 0.7 sent a heartbeat every 10 s; the server forgets idle connections after 15 s. */
        this.heartbeatInterval = 10000;
        /** Listen with long-polling only. */
        this.noWebsocket = false;
        /** True while a listening transport is open. */
        this.connected = false;

        /** First reconnect delay (ms); doubles on every failed attempt. */
        this.reconnectDelay = 250;
        /** Upper bound of the reconnect delay (ms). */
        this.maxReconnectDelay = 30000;
        /** 0.7's linear backoff step; kept so pages that set it do not break, no longer used. */
        this.increaseBounceIv = 2000;
        /**
         * The server sends a heartbeat frame every 5 s: a WebSocket silent for this long
         * (ms) is considered dead and reopened.
         */
        this.staleTimeout = 20000;
        /** A long-poll is held up to 5 s by the server; abandon it after this long (ms). */
        this.longPollTimeout = 30000;
        /** Send `resume` with the remembered offsets when (re)opening a transport. */
        this.resume = true;

        /** One of `ConnectionStatus`. */
        this.status = ConnectionStatus.CLOSED;
        /** 'websocket', 'longpoll' or null: what is listening now. */
        this.transport = null;

        /**
         * Mutators change requests before they are sent:
         * `connection.addMutator('connect', (request) => {request.body.x = 1})`.
         */
        this.mutators = {
            connect: [],
            message: [],
            messageEdit: [],
            messageDelete: [],
            subscribe: [],
            unsubscribe: [],
            disconnect: [],
            userState: [],
        };

        // Remembered position per stream: channel name (or DIRECT) -> {epoch, offset}.
        this._streams = new Map();
        // Where a channel stood when this page joined it (the connect and subscribe answers'
        // channels_info), kept until the page receives something there: `resume` starts
        // from it, so a page that has seen nothing on a channel still gets what was
        // published while it was away, even after the server forgot its connection. Only
        // for resuming: it never drops a message as already delivered.
        this._joined = new Map();
        // Bumped whenever a transport is opened or abandoned; events of older ones are ignored.
        this._generation = 0;
        // Failed attempts since the transport last worked; drives the backoff.
        this._attempt = 0;
        // "unknown connection" closes in a row without a frame in between.
        this._goneStreak = 0;
        this._retryTimer = null;
        this._heartbeatTimer = null;
        this._staleTimer = null;
        this._ajaxListen = null;
        this._connectRequest = null;
        // Set by disconnect()/closeConnection(): no more reconnecting until connect().
        this._closedByUser = false;
        // True once a transport has been open since the last explicit connect().
        this._wasOpen = false;
        // Set when a WebSocket failed to open: try long-poll next to tell "WebSocket
        // blocked" (the poll works) from "server down" (it fails too).
        this._probeLongPoll = false;
        // Set when that probe worked: listen with long-poll until the next connect().
        this._websocketBroken = false;
        // When the browser says the network is back, retry now instead of after the backoff.
        this._onOnline = () => {
            if (this._retryTimer && !this._closedByUser) {
                this._log('network is back: retrying now');
                this._attempt = 0;
                this._fireRetry();
            }
        };
        this._retryMode = null;
    }

    // -- 0.7 API: backend calls ----------------------------------------------

    /**
     * Asks the application backend (`connectUrl`) for a connection, then listens.
     * Remembered offsets are kept, so a page that reconnects resumes where it was.
     */
    connect() {
        this._clearRetry();
        this._closedByUser = false;
        this._websocketBroken = false;
        this._probeLongPoll = false;
        this._setStatus(this._wasOpen ? ConnectionStatus.RECONNECTING : ConnectionStatus.CONNECTING);
        if (this._connectRequest) {
            this._connectRequest.abort();
        }
        const request = new ChannelStreamRequest();
        request.url = this.connectUrl;
        request.body = {
            username: this.username,
            channels: this.channels,
        };
        this._runMutators('connect', request);
        request.handleError = this._handleConnectError.bind(this);
        request.handleResponse = this._handleConnect.bind(this);
        this._connectRequest = request;
        request.execute('POST');
    }

    /**
     * Registers a function that changes requests of one kind before they are sent.
     * @param type {string} one of the `mutators` keys
     * @param func {function} called with the ChannelStreamRequest
     */
    addMutator(type, func) {
        this.mutators[type].push(func);
    }

    /**
     * Sends a state change to `userStateUrl`.
     * @param stateObj {object}
     */
    updateUserState(stateObj) {
        const request = new ChannelStreamRequest();
        request.url = this.userStateUrl;
        request.body = {
            username: this.username,
            conn_id: this.connectionId,
            update_state: stateObj,
        };
        this._runMutators('userState', request);
        request.handleError = this._handleSetUserStateError.bind(this);
        request.handleResponse = this._handleSetUserState.bind(this);
        request.execute('POST');
    }

    /**
     * Subscribes to more channels through `subscribeUrl`.
     * @param channels {string[]}
     */
    subscribe(channels) {
        const request = new ChannelStreamRequest();
        request.url = this.subscribeUrl;
        request.body = {
            channels: channels,
            conn_id: this.connectionId,
        };
        this._runMutators('subscribe', request);
        request.handleError = this._handleSubscribeError.bind(this);
        request.handleResponse = this._handleSubscribe.bind(this);
        if (request.body.channels && request.body.channels.length) {
            request.execute('POST');
        }
    }

    /**
     * Unsubscribes from channels through `unsubscribeUrl`.
     * @param channels {string[]}
     */
    unsubscribe(channels) {
        const request = new ChannelStreamRequest();
        request.url = this.unsubscribeUrl;
        request.body = {
            channels: channels,
            conn_id: this.connectionId,
        };
        this._runMutators('unsubscribe', request);
        request.handleError = this._handleUnsubscribeError.bind(this);
        request.handleResponse = this._handleUnsubscribe.bind(this);
        request.execute('POST');
    }

    /** Channels of `channels` not subscribed yet. */
    calculateSubscribe(channels) {
        return (channels || []).filter((channel) => this.channels.indexOf(channel) === -1);
    }

    /** Channels of `channels` currently subscribed. */
    calculateUnsubscribe(channels) {
        return (channels || []).filter((channel) => this.channels.indexOf(channel) !== -1);
    }

    /**
     * Tells the server the connection is over (`disconnectUrl`) and stops listening.
     * Sent as `GET ?conn_id=` (a simple cross-origin request, no preflight); a
     * mutator that sets a body turns it into a POST of that JSON body.
     */
    disconnect() {
        const request = new ChannelStreamRequest();
        const separator = this.disconnectUrl.indexOf('?') === -1 ? '?' : '&';
        request.url = this.disconnectUrl + separator + 'conn_id=' + encodeURIComponent(this.connectionId);
        request.body = null;
        this._runMutators('disconnect', request);
        request.handleResponse = this._handleDisconnect.bind(this);
        request.handleError = () => {};
        request.execute(request.body ? 'POST' : 'GET');
        this.closeConnection();
    }

    /**
     * POSTs a message to the application backend (`messageUrl`).
     * @param message {object}
     */
    message(message) {
        const request = new ChannelStreamRequest();
        request.url = this.messageUrl;
        request.body = message;
        this._runMutators('message', request);
        request.handleError = this._handleMessageError.bind(this);
        request.handleResponse = this._handleMessage.bind(this);
        request.execute('POST');
    }

    /**
     * Sends a DELETE to `messageDeleteUrl`.
     * @param message {object}
     */
    delete(message) {
        const request = new ChannelStreamRequest();
        request.url = this.messageDeleteUrl;
        request.body = message;
        this._runMutators('messageDelete', request);
        request.handleError = this._handleMessageDeleteError.bind(this);
        request.handleResponse = this._handleMessageDelete.bind(this);
        request.execute('DELETE');
    }

    /**
     * Sends a PATCH to `messageEditUrl`.
     * @param message {object}
     */
    edit(message) {
        const request = new ChannelStreamRequest();
        request.url = this.messageEditUrl;
        request.body = message;
        this._runMutators('messageEdit', request);
        request.handleError = this._handleMessageEditError.bind(this);
        request.handleResponse = this._handleMessageEdit.bind(this);
        request.execute('PATCH');
    }

    // -- 0.7 API: listening ---------------------------------------------------

    /** Starts listening (called after a successful `connect()`). */
    startListening(request, data) {
        this.beforeListeningCallback(request, data);
        this._openTransport();
    }

    /** Opens a WebSocket to `websocketUrl`, resuming from the remembered offsets. */
    openWebsocket() {
        this._abandonTransport();
        const generation = this._generation;
        let socket;
        try {
            socket = new WebSocket(this._listenUrl(this.websocketUrl));
        } catch (exc) {
            this._log('WebSocket could not be created', exc);
            setTimeout(() => this._websocketFailed(generation, null), 0);
            return;
        }
        this.websocket = socket;
        let opened = false;
        let received = false;
        socket.onopen = (event) => {
            if (generation !== this._generation) {
                return;
            }
            opened = true;
            this._touchStaleTimer(generation);
            this._handleListenOpen(event);
        };
        socket.onmessage = (event) => {
            if (generation !== this._generation) {
                return;
            }
            if (!received) {
                // The socket works end to end: only now is the backoff reset, so a
                // server or proxy that accepts and drops at once cannot cause a tight loop.
                received = true;
                this._attempt = 0;
                this._goneStreak = 0;
            }
            this._touchStaleTimer(generation);
            this._handleListenWSMessageEvent(event);
        };
        socket.onerror = (event) => {
            if (generation !== this._generation) {
                return;
            }
            this._handleListenErrorEvent(event);
        };
        socket.onclose = (event) => {
            if (generation !== this._generation) {
                return;
            }
            if (opened && (received || event.code !== 1006)) {
                this._handleWebsocketCloseEvent(event);
            } else {
                // Never opened, or dropped before a single frame (a proxy that
                // accepts the upgrade and then cuts it): try long-poll.
                this._websocketFailed(generation, event);
            }
        };
    }

    /** Opens one long-poll request to `longPollUrl`; the next one follows its answer. */
    openLongPoll() {
        const generation = this._generation;
        const probing = this._probeLongPoll;
        const request = new ChannelStreamRequest();
        request.url = this._listenUrl(this.longPollUrl);
        request.timeout = this.longPollTimeout;
        request.handleResponse = (xhr, data) => {
            if (generation !== this._generation) {
                return;
            }
            this._ajaxListen = null;
            if (probing) {
                // HTTP reaches the server but the WebSocket did not: stay on long-poll.
                this._probeLongPoll = false;
                this._websocketBroken = true;
            }
            if (!this.connected) {
                this._handleListenOpen(xhr);
            }
            this._attempt = 0;
            this._goneStreak = 0;
            this._handleListenMessageEvent(Array.isArray(data) ? data : []);
        };
        request.handleError = (xhr, data) => {
            if (generation !== this._generation) {
                return;
            }
            this._ajaxListen = null;
            this._probeLongPoll = false;
            this._handleListenErrorEvent(xhr, data);
            this._lostTransport();
            const status = xhr.status;
            if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
                // The server refuses this conn_id (unknown or collected): get a new one soon.
                this._attempt = this._goneStreak;
                this._goneStreak += 1;
                this._scheduleReconnect('connect');
            } else {
                this._scheduleReconnect('listen');
            }
        };
        this._ajaxListen = request;
        request.execute('GET');
    }

    /** 0.7: retries `connect()` later (now with exponential backoff and jitter). */
    retryConnection() {
        this._scheduleReconnect('connect');
    }

    /** Stops listening for good (until the next `connect()`). */
    closeConnection() {
        this._closedByUser = true;
        this._clearRetry();
        if (this._connectRequest) {
            this._connectRequest.abort();
            this._connectRequest = null;
        }
        this._abandonTransport();
        this.connected = false;
        this._wasOpen = false;
        this._setStatus(ConnectionStatus.CLOSED);
        this.connectionClosedCallback();
    }

    /** Starts the WebSocket heartbeats (0.7 name). */
    createHeartBeats() {
        this._stopHeartbeats();
        if (this.heartbeats && this.websocket) {
            const generation = this._generation;
            this._heartbeatTimer = setInterval(() => {
                if (generation === this._generation) {
                    this._sendHeartBeat();
                }
            }, this.heartbeatInterval);
        }
    }

    _sendHeartBeat() {
        if (this.websocket && this.websocket.readyState === WebSocket.OPEN && this.heartbeats) {
            this.websocket.send(JSON.stringify({type: 'heartbeat'}));
        }
    }

    // -- Resume state ----------------------------------------------------------

    /**
     * The `resume` object sent to the server: the last (epoch, offset) seen per
     * subscribed channel and on the direct stream, or null when nothing is known.
     */
    get resumeState() {
        const channels = {};
        let any = false;
        for (const [name, position] of this._streams) {
            if (name !== DIRECT && this.channels.indexOf(name) !== -1) {
                channels[name] = [position.epoch, position.offset];
                any = true;
            }
        }
        for (const [name, position] of this._joined) {
            if (!this._streams.has(name) && this.channels.indexOf(name) !== -1) {
                channels[name] = [position.epoch, position.offset];
                any = true;
            }
        }
        const state = {};
        if (any) {
            state.channels = channels;
        }
        const direct = this._streams.get(DIRECT);
        if (direct) {
            state.direct = [direct.epoch, direct.offset];
            any = true;
        }
        return any ? state : null;
    }

    /** Forgets the remembered offsets (the next transport resumes from the server's own record). */
    resetOffsets() {
        this._streams.clear();
        this._joined.clear();
    }

    // -- Callbacks a page overrides (0.7 names, plus status and gap) ----------

    /** The status changed: one of `ConnectionStatus`; `previous` is the old one. */
    statusCallback(status, previous) {
        this._log('statusCallback', status, previous);
    }

    /**
     * The server could not fill a gap in a stream (or the client saw the epoch
     * change): `gap` is `{type: "gap", channel, epoch, offset, reason}`, `channel`
     * null for direct messages, `reason` "epoch" or "window". Resync that stream
     * (e.g. reload its history through the backend).
     */
    gapCallback(gap) {
        this._log('gapCallback', gap);
    }

    beforeListeningCallback(request, data) {
        this._log('beforeListeningCallback', request, data);
    }

    connectionClosedCallback() {
        this._log('connectionClosedCallback');
    }

    channelsChangedCallback(data) {
        this._log('channelsChangedCallback', data);
    }

    listenOpenedCallback(request, data) {
        this._log('listenOpenedCallback', request, data);
    }

    connectErrorCallback(request, data) {
        this._log('connectErrorCallback', request, data);
    }

    /** Messages arrived: a list, without duplicates and without `gap` notices. */
    listenMessageCallback(data) {
        this._log('listenMessageCallback', data);
    }

    listenCloseCallback(request, data) {
        this._log('listenCloseCallback', request, data);
    }

    listenErrorCallback(request, data) {
        this._log('listenErrorCallback', request, data);
    }

    connectCallback(request, data) {
        this._log('connectCallback', request, data);
    }

    disconnectCallback(request, data) {
        this._log('disconnectCallback', request, data);
    }

    messageCallback(request, data) {
        this._log('messageCallback', request, data);
    }

    messageErrorCallback(request, data) {
        this._log('messageErrorCallback', request, data);
    }

    messageEditCallback(request, data) {
        this._log('messageEditCallback', request, data);
    }

    messageEditErrorCallback(request, data) {
        this._log('messageEditErrorCallback', request, data);
    }

    messageDeleteCallback(request, data) {
        this._log('messageDeleteCallback', request, data);
    }

    messageDeleteErrorCallback(request, data) {
        this._log('messageDeleteErrorCallback', request, data);
    }

    subscribeCallback(request, data) {
        this._log('subscribeCallback', request, data);
    }

    subscribeErrorCallback(request, data) {
        this._log('subscribeErrorCallback', request, data);
    }

    unsubscribeCallback(request, data) {
        this._log('unsubscribeCallback', request, data);
    }

    unsubscribeErrorCallback(request, data) {
        this._log('unsubscribeErrorCallback', request, data);
    }

    setUserStateCallback(request, data) {
        this._log('setUserStateCallback', request, data);
    }

    setUserStateErrorCallback(request, data) {
        this._log('setUserStateErrorCallback', request, data);
    }

    // -- Internals: responses of backend calls ---------------------------------

    _handleConnect(request, data) {
        this._connectRequest = null;
        if (this._closedByUser) {
            return;
        }
        this.connectionId = data.conn_id;
        this.channels = data.channels || [];
        this._rememberJoined(data);
        this.channelsChangedCallback(this.channels);
        this.connectCallback(request, data);
        this.startListening(request, data);
    }

    _handleConnectError(request, data) {
        this._connectRequest = null;
        this.connected = false;
        this.connectErrorCallback(request, data);
        this._scheduleReconnect('connect');
    }

    _handleDisconnect(request, data) {
        this.connected = false;
        this.disconnectCallback(request, data);
    }

    _handleMessage(request, data) {
        this.messageCallback(request, data);
    }

    _handleMessageError(request, data) {
        this.messageErrorCallback(request, data);
    }

    _handleMessageEdit(request, data) {
        this.messageEditCallback(request, data);
    }

    _handleMessageEditError(request, data) {
        this.messageEditErrorCallback(request, data);
    }

    _handleMessageDelete(request, data) {
        this.messageDeleteCallback(request, data);
    }

    _handleMessageDeleteError(request, data) {
        this.messageDeleteErrorCallback(request, data);
    }

    _handleSubscribe(request, data) {
        this.channels = data.channels;
        this._rememberJoined(data);
        this.channelsChangedCallback(this.channels);
        this.subscribeCallback(request, data);
    }

    _handleSubscribeError(request, data) {
        this.subscribeErrorCallback(request, data);
    }

    _handleUnsubscribe(request, data) {
        this.channels = data.channels;
        for (const name of data.unsubscribed_from || []) {
            this._streams.delete(name);
            this._joined.delete(name);
        }
        this.channelsChangedCallback(this.channels);
        this.unsubscribeCallback(request, data);
    }

    _handleUnsubscribeError(request, data) {
        this.unsubscribeErrorCallback(request, data);
    }

    _handleSetUserState(request, data) {
        this.setUserStateCallback(request, data);
    }

    _handleSetUserStateError(request, data) {
        this.setUserStateErrorCallback(request, data);
    }

    // -- Internals: transports ---------------------------------------------------

    _openTransport() {
        this._clearRetry();
        this._abandonTransport();
        const canUseWebsocket = !this.noWebsocket && typeof globalThis.WebSocket === 'function';
        if (!canUseWebsocket || this._websocketBroken || this._probeLongPoll) {
            this.openLongPoll();
        } else {
            this.openWebsocket();
        }
    }

    /** Builds `/ws` or `/listen` URL with conn_id and resume. */
    _listenUrl(base) {
        const separator = base.indexOf('?') === -1 ? '?' : '&';
        let url = base + separator + 'conn_id=' + encodeURIComponent(this.connectionId);
        const resume = this.resume ? this.resumeState : null;
        if (resume) {
            url += '&resume=' + encodeURIComponent(JSON.stringify(resume));
        }
        return url;
    }

    /** Detaches from the current transport: its late events are ignored. */
    _abandonTransport() {
        this._generation += 1;
        this._stopHeartbeats();
        this._stopStaleTimer();
        if (this.websocket) {
            const socket = this.websocket;
            socket.onopen = null;
            socket.onmessage = null;
            socket.onerror = null;
            socket.onclose = null;
            if (socket.readyState <= WebSocket.OPEN) {
                try {
                    socket.close(1000);
                } catch (exc) {
                    // already closing
                }
            }
            this.websocket = null;
        }
        if (this._ajaxListen) {
            this._ajaxListen.abort();
            this._ajaxListen = null;
        }
        this.transport = null;
    }

    /** The transport is gone: note it and tell the page (status changes on reschedule). */
    _lostTransport() {
        this._stopHeartbeats();
        this._stopStaleTimer();
        this.connected = false;
        this.transport = null;
        this.websocket = null;
    }

    /** A WebSocket never opened: probe long-poll next, at once for the first failure. */
    _websocketFailed(generation, event) {
        if (generation !== this._generation) {
            return;
        }
        this._lostTransport();
        if (event) {
            this.listenCloseCallback(event, {code: event.code, reason: event.reason});
        }
        if (this._closedByUser) {
            return;
        }
        this._probeLongPoll = true;
        this._setStatus(this._wasOpen ? ConnectionStatus.RECONNECTING : this.status);
        this._abandonTransport();
        this.openLongPoll();
    }

    /** Restarts the WebSocket stale timer: no frame for `staleTimeout` means a dead socket. */
    _touchStaleTimer(generation) {
        this._stopStaleTimer();
        if (!this.staleTimeout) {
            return;
        }
        this._staleTimer = setTimeout(() => {
            if (generation !== this._generation) {
                return;
            }
            this._log('no frame for', this.staleTimeout, 'ms: reopening');
            this._abandonTransport();
            this._lostTransport();
            this._scheduleReconnect('listen');
        }, this.staleTimeout);
    }

    _stopStaleTimer() {
        if (this._staleTimer) {
            clearTimeout(this._staleTimer);
            this._staleTimer = null;
        }
    }

    _stopHeartbeats() {
        if (this._heartbeatTimer) {
            clearInterval(this._heartbeatTimer);
            this._heartbeatTimer = null;
        }
    }

    _handleListenOpen(request, data) {
        this.connected = true;
        this._wasOpen = true;
        this.transport = this.websocket ? 'websocket' : 'longpoll';
        this._setStatus(ConnectionStatus.OPEN);
        this.listenOpenedCallback(request, data);
        if (this.websocket) {
            this.createHeartBeats();
        }
    }

    _handleListenMessageEvent(data) {
        const generation = this._generation;
        setTimeout(() => {
            if (generation === this._generation && !this._closedByUser) {
                this.openLongPoll();
            }
        }, 0);
        this._deliver(data);
    }

    _handleListenWSMessageEvent(event) {
        let data;
        try {
            data = JSON.parse(event.data);
        } catch (exc) {
            this._log('unparsable frame', event.data);
            return;
        }
        this._deliver(Array.isArray(data) ? data : [data]);
    }

    _handleWebsocketCloseEvent(event) {
        this._lostTransport();
        this.listenCloseCallback(event, {code: event.code, reason: event.reason});
        if (this._closedByUser) {
            return;
        }
        if (CONNECTION_GONE_REASONS.indexOf(event.reason) !== -1) {
            // The server is up and answered: ask the backend for a new connection soon,
            // backing off only if that keeps happening without a frame in between.
            this._attempt = this._goneStreak;
            this._goneStreak += 1;
            this._scheduleReconnect('connect');
        } else {
            this._scheduleReconnect('listen');
        }
    }

    _handleListenErrorEvent(request, data) {
        this.listenErrorCallback(request, data);
    }

    /**
     * Schedules the next attempt: 'listen' reopens a transport with the same
     * conn_id, 'connect' asks the backend for a new one.
     */
    _scheduleReconnect(mode) {
        this._clearRetry();
        this.connected = false;
        if (!this.shouldReconnect || this._closedByUser) {
            this._setStatus(ConnectionStatus.CLOSED);
            this.connectionClosedCallback();
            return;
        }
        this._setStatus(this._wasOpen ? ConnectionStatus.RECONNECTING : ConnectionStatus.CONNECTING);
        const delay = this._nextDelay();
        this._log('reconnecting in', delay, 'ms via', mode);
        this._retryMode = mode;
        this._retryTimer = setTimeout(() => this._fireRetry(), delay);
        if (typeof globalThis.addEventListener === 'function') {
            globalThis.addEventListener('online', this._onOnline);
        }
    }

    _fireRetry() {
        const mode = this._retryMode;
        this._clearRetry();
        if (this._closedByUser) {
            return;
        }
        if (mode === 'connect' || !this.connectionId) {
            this.connect();
        } else {
            this._openTransport();
        }
    }

    /** Exponential backoff with "equal jitter": half fixed, half random. */
    _nextDelay() {
        const ceiling = Math.min(this.maxReconnectDelay, this.reconnectDelay * Math.pow(2, this._attempt));
        this._attempt = Math.min(this._attempt + 1, 30);
        return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    }

    _clearRetry() {
        if (this._retryTimer) {
            clearTimeout(this._retryTimer);
            this._retryTimer = null;
        }
        this._retryMode = null;
        if (typeof globalThis.removeEventListener === 'function') {
            globalThis.removeEventListener('online', this._onOnline);
        }
    }

    _setStatus(status) {
        if (status === this.status) {
            return;
        }
        const previous = this.status;
        this.status = status;
        this.statusCallback(status, previous);
    }

    // -- Internals: delivery, de-duplication and gaps ---------------------------

    /** Drops what was already seen, reports gaps, hands the rest to the page. */
    _deliver(messages) {
        const fresh = [];
        for (const message of messages) {
            if (!message || typeof message !== 'object') {
                continue;
            }
            if (message.type === 'gap') {
                this._applyGap(message);
                continue;
            }
            if (this._isDuplicate(message)) {
                this._log('duplicate dropped', message);
                continue;
            }
            fresh.push(message);
        }
        this.listenMessageCallback(fresh);
    }

    /**
     * Keeps where each channel of a connect or subscribe answer stood (its `epoch` and
     * `offset` in channels_info), for channels this page knows no position on yet; the
     * earliest is kept, as the page has received nothing there since.
     */
    _rememberJoined(data) {
        const info = data && data.channels_info && data.channels_info.channels;
        if (!info || typeof info !== 'object') {
            return;
        }
        for (const [name, channel] of Object.entries(info)) {
            if (
                channel && typeof channel.offset === 'number' && typeof channel.epoch === 'string'
                && !this._streams.has(name) && !this._joined.has(name)
            ) {
                this._joined.set(name, {epoch: channel.epoch, offset: channel.offset});
            }
        }
    }

    /** Records the stream position of `message`; true when it was already delivered. */
    _isDuplicate(message) {
        if (typeof message.offset !== 'number' || typeof message.epoch !== 'string') {
            return false;
        }
        const key = message.channel === undefined || message.channel === null ? DIRECT : message.channel;
        const known = this._streams.get(key);
        if (known && known.epoch === message.epoch && message.offset <= known.offset) {
            return true;
        }
        if (known && known.epoch !== message.epoch) {
            // The log was lost and the server said nothing (e.g. resume was not sent).
            this.gapCallback({
                type: 'gap', channel: key, epoch: message.epoch, offset: message.offset,
                reason: 'epoch', detectedBy: 'client',
            });
        } else if (message.gap === true) {
            this.gapCallback({
                type: 'gap', channel: key, epoch: message.epoch, offset: message.offset,
                reason: 'window',
            });
        }
        this._streams.set(key, {epoch: message.epoch, offset: message.offset});
        return false;
    }

    /** A server `gap` notice: adopt the new epoch so its replay is accepted. */
    _applyGap(gap) {
        const key = gap.channel === undefined || gap.channel === null ? DIRECT : gap.channel;
        const known = this._streams.get(key);
        if (!known || known.epoch !== gap.epoch) {
            // Offsets of another epoch mean nothing here: accept whatever is replayed.
            this._streams.set(key, {epoch: gap.epoch, offset: 0});
        }
        this.gapCallback(gap);
    }

    _runMutators(kind, request) {
        for (const callable of this.mutators[kind] || []) {
            callable(request);
        }
    }

    _log(...args) {
        if (this.debug) {
            console.log('[channelstream]', ...args);
        }
    }
}
