// channelstream admin panel: polls admin.json, renders the dashboard, runs the actions.
// Plain ES module, no build step. Every piece of server data goes in through
// textContent, never innerHTML.

import { renderWebhook } from './webhook.js';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 8000;
const RATE_WINDOW = 4; // samples (about seconds) the rate is averaged over
const SPARK_POINTS = 120;
const CONFIG_KEYS = [
    'notify_presence', 'broadcast_presence_with_user_lists', 'notify_state',
    'store_history', 'store_frames',
];

const body = document.body;
const urls = {
    adminJson: body.dataset.adminJson,
    message: body.dataset.apiMessage,
    channelConfig: body.dataset.apiChannelConfig,
    disconnect: body.dataset.apiDisconnect,
    signOut: body.dataset.signOut,
};
const $ = (id) => document.getElementById(id);

const view = {
    data: null,
    samples: [], // {t, unique, deliveries}
    spark: [],
    paused: false,
    inFlight: false,
    failures: 0,
    timer: null,
    channel: null, // the channel shown, from the URL's #channel=NAME
    configDirty: false,
    configShownFor: null,
    signedOut: false,
};
// For the tests and for curious admins: how many polls were rendered.
window.channelstreamAdmin = { polls: 0, view };

// -- helpers -------------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
        if (key === 'dataset') Object.assign(node.dataset, value);
        else if (key === 'text') node.textContent = value;
        else if (key in node && !key.startsWith('aria')) node[key] = value;
        else node.setAttribute(key, value);
    }
    for (const child of children) {
        if (child !== null && child !== undefined) node.append(child);
    }
    return node;
}

function setText(node, text) {
    const value = String(text);
    if (node.textContent !== value) node.textContent = value;
}

function formatNumber(value) {
    return Number(value).toLocaleString('en');
}

function plural(count, noun) {
    return `${formatNumber(count)} ${noun}${count === 1 ? '' : 's'}`;
}

function formatRate(value) {
    if (!Number.isFinite(value)) return '–';
    return value >= 100 ? formatNumber(Math.round(value)) : value.toFixed(1);
}

function formatUptime(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const days = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    if (days) return `${days}d ${h}h ${m}m`;
    if (h) return `${h}h ${m}m ${sec}s`;
    if (m) return `${m}m ${sec}s`;
    return `${sec}s`;
}

function shortTime(iso) {
    if (!iso) return '';
    const [date, time] = String(iso).split('T');
    return time ? `${date} ${time.slice(0, 8)}` : String(iso);
}

function stateText(state) {
    const entries = Object.entries(state || {});
    if (!entries.length) return '—';
    return entries.map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join(', ');
}

// Keep one element per key across renders, so focus and scroll stay where they are.
function syncChildren(container, items, keyOf, create, update) {
    const existing = new Map();
    for (const child of [...container.children]) existing.set(child.dataset.key, child);
    const wanted = [];
    for (const item of items) {
        const key = keyOf(item);
        let node = existing.get(key);
        if (node) existing.delete(key);
        else {
            node = create(item);
            node.dataset.key = key;
        }
        update(node, item);
        wanted.push(node);
    }
    for (const stale of existing.values()) stale.remove();
    wanted.forEach((node, index) => {
        if (container.children[index] !== node) {
            container.insertBefore(node, container.children[index] || null);
        }
    });
}

function toast(text) {
    const node = $('toast');
    node.textContent = text;
    node.classList.add('show');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => node.classList.remove('show'), 4000);
}

function showAlert(text, link) {
    const node = $('alert');
    node.replaceChildren(text);
    if (link) node.append(' ', el('a', { href: link.href, text: link.text }));
    node.hidden = false;
}

function hideAlert() {
    $('alert').hidden = true;
}

function errorText(status, payload) {
    if (payload && typeof payload === 'object') {
        const flat = [];
        const walk = (value, path) => {
            if (Array.isArray(value)) flat.push(`${path ? `${path}: ` : ''}${value.join(' ')}`);
            else if (value && typeof value === 'object') {
                for (const [key, inner] of Object.entries(value)) {
                    walk(inner, path ? `${path}.${key}` : key);
                }
            } else flat.push(`${path ? `${path}: ` : ''}${value}`);
        };
        walk(payload, '');
        if (flat.length) return flat.join('; ');
    }
    return `The server answered ${status}.`;
}

async function postJson(url, payload) {
    const response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(payload),
    });
    let answer = null;
    try {
        answer = await response.json();
    } catch {
        answer = null;
    }
    if (response.status === 403) signedOut();
    if (!response.ok) throw new Error(errorText(response.status, answer));
    return answer;
}

// -- polling ------------------------------------------------------------------------------

function schedule(delay) {
    clearTimeout(view.timer);
    if (!view.paused && !view.signedOut) view.timer = setTimeout(poll, delay);
}

function setLive(state, text) {
    $('live').dataset.state = state;
    setText($('live-text'), text);
}

function signedOut() {
    view.signedOut = true;
    clearTimeout(view.timer);
    setLive('off', 'Signed out');
    showAlert('Your admin session has ended.', { href: urls.signOut, text: 'Sign in again' });
}

async function poll() {
    if (view.inFlight) return;
    view.inFlight = true;
    try {
        const response = await fetch(urls.adminJson, {
            credentials: 'same-origin',
            headers: { Accept: 'application/json' },
            redirect: 'manual',
            cache: 'no-store',
        });
        if (response.type === 'opaqueredirect' || response.status === 403
                || response.status === 401) {
            signedOut();
            return;
        }
        if (!response.ok) throw new Error(`admin.json answered ${response.status}`);
        const data = await response.json();
        view.failures = 0;
        hideAlert();
        render(data);
        window.channelstreamAdmin.polls += 1;
        const time = new Date().toLocaleTimeString('en-GB');
        if (view.paused) setLive('paused', `Updates paused · last ${time}`);
        else setLive('live', `Live · updated ${time}`);
        schedule(POLL_MS);
    } catch (error) {
        view.failures += 1;
        const delay = Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** view.failures);
        setLive('error', `Cannot reach the server; retrying in ${Math.round(delay / 1000)} s`);
        schedule(delay);
    } finally {
        view.inFlight = false;
    }
}

// -- rendering ------------------------------------------------------------------------------

function render(data) {
    view.data = data;
    renderStats(data);
    renderChannels(data);
    renderUsers(data);
    renderChannelView();
    renderWebhook(data.webhook);
}

function measureRate(data) {
    const now = performance.now();
    const last = view.samples[view.samples.length - 1];
    // A restarted server starts its counters again: so do we.
    if (last && (data.total_unique_messages < last.unique || data.total_messages < last.deliveries)) {
        view.samples = [];
    }
    view.samples.push({ t: now, unique: data.total_unique_messages, deliveries: data.total_messages });
    if (view.samples.length > RATE_WINDOW + 1) view.samples.shift();
    const first = view.samples[0];
    const seconds = (now - first.t) / 1000;
    if (view.samples.length < 2 || seconds <= 0) return { published: NaN, delivered: NaN };
    return {
        published: (data.total_unique_messages - first.unique) / seconds,
        delivered: (data.total_messages - first.deliveries) / seconds,
    };
}

function renderStats(data) {
    const rate = measureRate(data);
    setText($('version'), `v${data.version}`);
    setText($('stat-connections'), formatNumber(data.total_connections));
    setText($('stat-users'), formatNumber(data.unique_user_count));
    setText($('stat-users-remembered'), `${formatNumber(data.remembered_user_count)} remembered`);
    setText($('stat-channels'), formatNumber(data.total_channels));
    setText($('stat-rate'), formatRate(rate.published));
    setText($('stat-deliveries'), Number.isFinite(rate.delivered)
        ? `${formatRate(rate.delivered)} deliveries / s` : '');
    setText($('stat-uptime'), formatUptime(data.uptime_seconds));
    setText($('stat-total'), `${formatNumber(data.total_unique_messages)} messages in all`);
    for (const [id, value] of Object.entries({
        'stat-connections': data.total_connections,
        'stat-users': data.unique_user_count,
        'stat-channels': data.total_channels,
    })) {
        $(id).dataset.value = String(value);
    }
    if (Number.isFinite(rate.published)) {
        view.spark.push(rate.published);
        if (view.spark.length > SPARK_POINTS) view.spark.shift();
        drawSpark();
    }
}

function drawSpark() {
    const values = view.spark;
    const top = Math.max(1, ...values);
    const step = 120 / (SPARK_POINTS - 1);
    const offset = (SPARK_POINTS - values.length) * step;
    const points = values.map((value, i) => {
        const x = offset + i * step;
        const y = 23 - (value / top) * 21;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    $('spark').querySelector('polyline').setAttribute('points', points.join(' '));
    const last = values[values.length - 1];
    $('spark').setAttribute('aria-label', `Messages per second, last two minutes: now ${formatRate(last)}, peak ${formatRate(Math.max(...values))}`);
}

function channelHref(name) {
    return `#channel=${encodeURIComponent(name)}`;
}

function cell(label, ...children) {
    return el('td', { dataset: { label } }, ...children);
}

function renderChannels(data) {
    const filter = $('channel-filter').value.trim().toLowerCase();
    const channels = Object.values(data.channels || {})
        .filter((channel) => !filter || channel.name.toLowerCase().includes(filter))
        .sort((a, b) => a.name.localeCompare(b.name));
    const tbody = $('channels-table').tBodies[0];
    syncChildren(tbody, channels, (c) => c.name, (channel) => el('tr', {},
        cell('Channel', el('a', { href: channelHref(channel.name), className: 'channel-link', text: channel.name })),
        cell('Users'), cell('Connections'), cell('History'), cell('Last active (UTC)')),
    (row, channel) => {
        row.dataset.channel = channel.name;
        row.classList.toggle('selected', channel.name === view.channel);
        const tds = row.cells;
        setText(tds[1], formatNumber(channel.total_users));
        setText(tds[2], formatNumber(channel.total_connections));
        setText(tds[3], channel.settings.store_history
            ? `${channel.history.length} / ${channel.settings.history_size}` : 'off');
        setText(tds[4], shortTime(channel.last_active));
    });
    $('channels-empty').hidden = channels.length > 0;
    $('channels-empty').textContent = filter && Object.keys(data.channels || {}).length
        ? 'No channel matches the filter.' : 'No channels yet.';
}

function disconnectButton(connId, user) {
    return el('button', {
        type: 'button',
        className: 'danger small',
        text: 'Disconnect',
        dataset: { connId, user },
        'aria-label': `Disconnect ${user}'s connection ${connId.slice(0, 8)}`,
    });
}

function connectionsCell(user) {
    const list = el('ul', { className: 'conns' });
    for (const connId of user.connections || []) {
        list.append(el('li', {}, el('code', { text: connId.slice(0, 8), title: connId }),
            disconnectButton(connId, user.user)));
    }
    return list;
}

function userRows(tbody, users) {
    syncChildren(tbody, users, (u) => u.user, () => el('tr', {},
        cell('User'), cell('Public state'), cell('Connections')),
    (row, user) => {
        row.dataset.user = user.user;
        setText(row.cells[0], user.user);
        setText(row.cells[1], stateText(user.state));
        const connTd = row.cells[2];
        const signature = (user.connections || []).join(',');
        if (connTd.dataset.signature !== signature) {
            // Rebuilt only when the connections changed, so a focused button stays put.
            connTd.dataset.signature = signature;
            connTd.replaceChildren(connectionsCell(user));
        }
    });
}

function renderUsers(data) {
    const filter = $('user-filter').value.trim().toLowerCase();
    const users = (data.users || [])
        .filter((user) => !filter || user.user.toLowerCase().includes(filter))
        .sort((a, b) => a.user.localeCompare(b.user));
    userRows($('users-table').tBodies[0], users);
    $('users-empty').hidden = users.length > 0;
}

// -- the channel view -------------------------------------------------------------------------

function channelFromHash() {
    const match = /^#channel=(.*)$/.exec(window.location.hash);
    if (!match) return null;
    try {
        return decodeURIComponent(match[1]);
    } catch {
        return null;
    }
}

function openChannelFromHash(focus) {
    const name = channelFromHash();
    if (name !== view.channel) {
        view.channel = name;
        view.configDirty = false;
        view.configShownFor = null;
        $('publish-result').textContent = '';
        $('config-result').textContent = '';
    }
    renderChannelView();
    if (view.data) renderChannels(view.data);
    if (name !== null && focus) $('channel-title').focus();
}

function renderChannelView() {
    const section = $('channel-view');
    if (view.channel === null) {
        section.hidden = true;
        return;
    }
    section.hidden = false;
    section.dataset.channel = view.channel;
    setText($('channel-title'), `Channel: ${view.channel}`);
    if (!view.data) return;
    const channel = (view.data.channels || {})[view.channel];
    $('channel-gone').hidden = Boolean(channel);
    for (const node of section.querySelectorAll('form button, form input, form textarea')) {
        node.disabled = !channel;
    }
    if (!channel) {
        setText($('channel-meta'), '');
        return;
    }
    setText($('channel-meta'), `${plural(channel.total_users, 'user')} · `
        + `${plural(channel.total_connections, 'connection')} · last active `
        + `${shortTime(channel.last_active)} UTC · stream offset ${channel.offset ?? '–'}`);
    if (!view.configDirty || view.configShownFor !== view.channel) showConfig(channel.settings);

    const byName = new Map((view.data.users || []).map((user) => [user.user, user]));
    const users = (channel.users || []).map((name) => byName.get(name)
        || { user: name, state: {}, connections: [] });
    userRows($('channel-users').tBodies[0], users);
    $('channel-users-empty').hidden = users.length > 0;

    const history = [...(channel.history || [])].reverse();
    syncChildren($('history'), history, (item) => item.uuid, () => el('li', {},
        el('div', { className: 'history-head' }, el('strong'), el('time'), el('code')),
        el('pre')),
    (item, message) => {
        const [who, time, id] = item.firstChild.children;
        setText(who, message.user ?? '');
        setText(time, shortTime(message.timestamp));
        time.dateTime = message.timestamp || '';
        setText(id, message.uuid.slice(0, 8));
        id.title = message.uuid;
        const compact = JSON.stringify(message.message ?? {});
        setText(item.lastChild, compact.length > 90
            ? JSON.stringify(message.message, null, 1) : compact);
        item.classList.toggle('edited', Boolean(message.edited));
    });
    $('history-empty').hidden = history.length > 0;
}

function showConfig(settings) {
    for (const key of CONFIG_KEYS) $(`cfg-${key}`).checked = Boolean(settings[key]);
    $('cfg-history_size').value = String(settings.history_size);
    view.configDirty = false;
    view.configShownFor = view.channel;
}

// -- actions ------------------------------------------------------------------------------------

async function saveConfig(event) {
    event.preventDefault();
    const result = $('config-result');
    const size = Number($('cfg-history_size').value);
    if (!Number.isInteger(size) || size < 0) {
        result.textContent = 'History size must be a whole number, 0 or more.';
        result.dataset.kind = 'error';
        $('cfg-history_size').focus();
        return;
    }
    const config = { history_size: size };
    for (const key of CONFIG_KEYS) config[key] = $(`cfg-${key}`).checked;
    const name = view.channel;
    try {
        const answer = await postJson(urls.channelConfig, { channel: name, config });
        result.textContent = `Saved the settings of ${name}.`;
        result.dataset.kind = 'ok';
        view.configDirty = false;
        const info = answer && answer.channels && answer.channels[name];
        if (info && view.channel === name) showConfig(info.settings);
        poll();
    } catch (error) {
        result.textContent = `Not saved: ${error.message}`;
        result.dataset.kind = 'error';
    }
}

function parseMessage(text) {
    const trimmed = text.trim();
    if (trimmed.startsWith('{')) {
        try {
            const value = JSON.parse(trimmed);
            if (value && typeof value === 'object' && !Array.isArray(value)) return value;
        } catch {
            // Not JSON after all: send it as text.
        }
    }
    return { text };
}

async function publish(event) {
    event.preventDefault();
    const result = $('publish-result');
    const user = $('publish-user').value.trim();
    const text = $('publish-text').value;
    if (!user) {
        result.textContent = 'Enter the user the message is from.';
        result.dataset.kind = 'error';
        $('publish-user').focus();
        return;
    }
    if (!text.trim()) {
        result.textContent = 'Enter a message.';
        result.dataset.kind = 'error';
        $('publish-text').focus();
        return;
    }
    const item = {
        channel: view.channel,
        user,
        message: parseMessage(text),
        no_history: $('publish-no-history').checked,
    };
    try {
        const [sent] = await postJson(urls.message, [item]);
        result.textContent = `Published ${sent.uuid.slice(0, 8)} to ${view.channel}.`;
        result.dataset.kind = 'ok';
        result.dataset.uuid = sent.uuid;
        $('publish-text').value = '';
        poll();
    } catch (error) {
        result.textContent = `Not published: ${error.message}`;
        result.dataset.kind = 'error';
    }
}

async function disconnect(button) {
    const { connId, user } = button.dataset;
    button.disabled = true;
    try {
        const answer = await postJson(urls.disconnect, { conn_id: connId });
        toast(answer.disconnected
            ? `Disconnected ${user}'s connection ${connId.slice(0, 8)}; it closes within a second.`
            : `Connection ${connId.slice(0, 8)} was already gone.`);
        button.textContent = 'Disconnecting…';
    } catch (error) {
        button.disabled = false;
        toast(`Not disconnected: ${error.message}`);
    }
}

// -- wiring -----------------------------------------------------------------------------------

$('config-form').addEventListener('submit', saveConfig);
$('config-form').addEventListener('input', () => { view.configDirty = true; });
$('config-reset').addEventListener('click', () => {
    view.configDirty = false;
    view.configShownFor = null;
    $('config-result').textContent = '';
    renderChannelView();
});
$('publish-form').addEventListener('submit', publish);
$('publish-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        $('publish-form').requestSubmit();
    }
});
document.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-conn-id]');
    if (button) disconnect(button);
});
for (const id of ['channel-filter', 'user-filter']) {
    $(id).addEventListener('input', () => {
        if (!view.data) return;
        renderChannels(view.data);
        renderUsers(view.data);
    });
}
$('pause').addEventListener('click', () => {
    view.paused = !view.paused;
    $('pause').setAttribute('aria-pressed', String(view.paused));
    $('pause').textContent = view.paused ? 'Resume updates' : 'Pause updates';
    if (view.paused) {
        clearTimeout(view.timer);
        setLive('paused', 'Updates paused');
    } else {
        view.samples = [];
        poll();
    }
});
$('channel-close').addEventListener('click', (event) => {
    event.preventDefault();
    const closed = view.channel;
    window.history.pushState(null, '', window.location.pathname + window.location.search);
    openChannelFromHash(false);
    const link = [...document.querySelectorAll('#channels-table a.channel-link')]
        .find((a) => a.closest('tr').dataset.channel === closed);
    (link || $('main')).focus();
});
window.addEventListener('hashchange', () => openChannelFromHash(true));
document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && view.channel !== null
            && !event.target.closest('input, textarea')) {
        $('channel-close').click();
    }
});

openChannelFromHash(false);
poll();
