// channelstream admin panel: polls the summary (totals and the server's trends), a page of
// channels and of users and the channel being viewed, renders them, runs the actions.
// Plain ES modules, no build step. Every piece of server data goes in through textContent,
// never innerHTML. (admin.json, with every channel's history, is for 0.7's tools.)

import { drawChart } from './charts.js';
import { confirmAction } from './confirm.js';
import {
    el, formatNumber, formatRate, formatUptime, plural, setText, shortTime, stateText,
    syncChildren,
} from './dom.js';
import { Pager } from './pager.js';
import { renderWebhook } from './webhook.js';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 8000;
const PAGE_SIZE = 50;
const CONFIG_KEYS = [
    'notify_presence', 'broadcast_presence_with_user_lists', 'notify_state',
    'store_history', 'store_frames',
];

const body = document.body;
const urls = {
    summary: body.dataset.summary,
    channels: body.dataset.channels,
    users: body.dataset.users,
    channel: body.dataset.channel,
    message: body.dataset.apiMessage,
    channelConfig: body.dataset.apiChannelConfig,
    disconnect: body.dataset.apiDisconnect,
    signOut: body.dataset.signOut,
};
const $ = (id) => document.getElementById(id);

// -- state ---------------------------------------------------------------------------------

const view = {
    data: null, // {summary, channels, users, channel}: the last poll's answers
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

// -- telling the admin ------------------------------------------------------------------------

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

class SignedOut extends Error {}

async function getJson(url, { missingOk = false } = {}) {
    const response = await fetch(url, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        redirect: 'manual',
        cache: 'no-store',
    });
    if (response.type === 'opaqueredirect' || response.status === 403
            || response.status === 401) {
        throw new SignedOut();
    }
    if (missingOk && response.status === 404) return null;
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
}

function channelUrl(name) {
    return `${urls.channel}?${new URLSearchParams({ name })}`;
}

async function poll() {
    if (view.inFlight) {
        view.again = true; // a pager moved meanwhile: poll once more when this one is done
        return;
    }
    view.inFlight = true;
    try {
        const name = view.channel;
        const [summary, channels, users, channel] = await Promise.all([
            getJson(urls.summary),
            getJson(pagers.channels.query()),
            getJson(pagers.users.query()),
            name === null ? null : getJson(channelUrl(name), { missingOk: true }),
        ]);
        view.failures = 0;
        hideAlert();
        render({ summary, channels, users, channel: name === view.channel ? channel : undefined });
        window.channelstreamAdmin.polls += 1;
        const time = new Date().toLocaleTimeString('en-GB');
        if (view.paused) setLive('paused', `Updates paused · last ${time}`);
        else setLive('live', `Live · updated ${time}`);
        schedule(POLL_MS);
    } catch (error) {
        if (error instanceof SignedOut) {
            signedOut();
            return;
        }
        view.failures += 1;
        const delay = Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** view.failures);
        setLive('error', `Cannot reach the server; retrying in ${Math.round(delay / 1000)} s`);
        schedule(delay);
    } finally {
        view.inFlight = false;
        if (view.again) {
            view.again = false;
            if (!view.signedOut) poll();
        }
    }
}

const pagers = {
    channels: new Pager('channels', urls.channels, {
        filterId: 'channel-filter', limit: PAGE_SIZE, onChange: () => poll(),
    }),
    users: new Pager('users', urls.users, {
        filterId: 'user-filter', limit: PAGE_SIZE, onChange: () => poll(),
    }),
};

// -- rendering ------------------------------------------------------------------------------

function render(data) {
    view.data = data;
    renderStats(data.summary);
    renderCharts(data.summary.trends, data.summary.node_connections);
    renderChannels(data.channels);
    renderUsers(data.users);
    renderChannelView();
    renderWebhook(data.summary.webhook);
}

function last(values) {
    return values.length ? values[values.length - 1] : NaN;
}

function renderStats(summary) {
    const trends = summary.trends;
    setText($('version'), `v${summary.version}`);
    setText($('stat-connections'), formatNumber(summary.total_connections));
    setText($('stat-users'), formatNumber(summary.unique_user_count));
    setText($('stat-users-remembered'), `${formatNumber(summary.remembered_user_count)} remembered`);
    setText($('stat-channels'), formatNumber(summary.total_channels));
    setText($('stat-rate'), formatRate(last(trends.messages)));
    const delivered = last(trends.deliveries);
    setText($('stat-deliveries'), Number.isFinite(delivered)
        ? `${formatRate(delivered)} deliveries / s` : '');
    setText($('stat-uptime'), formatUptime(summary.uptime_seconds));
    setText($('stat-total'), `${formatNumber(summary.total_unique_messages)} messages in all`);
    for (const [id, value] of Object.entries({
        'stat-connections': summary.total_connections,
        'stat-users': summary.unique_user_count,
        'stat-channels': summary.total_channels,
    })) {
        $(id).dataset.value = String(value);
    }
}

function chartOptions(trends, label, format) {
    return { slots: trends.minutes * 60 / trends.interval, minutes: trends.minutes, label, format };
}

function renderCharts(trends, transports) {
    drawChart($('chart-connections'), trends.connections,
        chartOptions(trends, 'Connections on this node', formatCount));
    drawChart($('chart-messages'), trends.messages,
        chartOptions(trends, 'Messages per second', formatRate));
    drawChart($('chart-deliveries'), trends.deliveries,
        chartOptions(trends, 'Deliveries per second', formatRate));
    setText($('chart-transports'), `${formatNumber(transports.websocket)} WebSocket · `
        + `${formatNumber(transports.longpoll)} long-poll`);
}

function formatCount(value) {
    return Number.isFinite(value) ? formatNumber(Math.round(value)) : '–';
}

function channelHref(name) {
    return `#channel=${encodeURIComponent(name)}`;
}

function cell(label, ...children) {
    return el('td', { dataset: { label } }, ...children);
}

function renderChannels(answer) {
    const channels = answer.items;
    const tbody = $('channels-table').tBodies[0];
    syncChildren(tbody, channels, (c) => c.name, (channel) => el('tr', {},
        cell('Channel', el('a', { href: channelHref(channel.name), className: 'channel-link', text: channel.name })),
        cell('Users'), cell('Connections'), cell('Messages / s'), cell('History'),
        cell('Last active (UTC)')),
    (row, channel) => {
        row.dataset.channel = channel.name;
        row.classList.toggle('selected', channel.name === view.channel);
        const tds = row.cells;
        setText(tds[1], formatNumber(channel.total_users));
        setText(tds[2], formatNumber(channel.total_connections));
        setText(tds[3], formatRate(channel.rate));
        setText(tds[4], channel.settings.store_history
            ? `${formatNumber(channel.settings.history_size)} kept` : 'off');
        setText(tds[5], shortTime(channel.last_active));
    });
    pagers.channels.update(answer);
    $('channels-empty').hidden = channels.length > 0;
    $('channels-empty').textContent = answer.q ? 'No channel matches the filter.' : 'No channels yet.';
}

function disconnectButton(conn, user) {
    const short = conn.conn_id.slice(conn.stand_in ? 6 : 0, conn.stand_in ? 14 : 8);
    return el('button', {
        type: 'button',
        className: 'danger small',
        text: 'Disconnect',
        dataset: { connId: conn.conn_id, user, standIn: String(conn.stand_in) },
        'aria-label': conn.stand_in
            ? `End ${user}'s presence held by stand-in ${short}`
            : `Disconnect ${user}'s connection ${short}`,
    });
}

function connectionsCell(user) {
    const list = el('ul', { className: 'conns' });
    for (const conn of user.connections || []) {
        const short = conn.stand_in ? conn.conn_id.slice(6, 14) : conn.conn_id.slice(0, 8);
        list.append(el('li', { dataset: { standIn: String(conn.stand_in) } },
            el('code', { text: short, title: conn.conn_id }),
            conn.stand_in ? el('span', {
                className: 'badge', text: 'stand-in',
                title: 'Holds the presence of a connection that went (presence_grace)',
            }) : null,
            disconnectButton(conn, user.user)));
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
        const signature = (user.connections || []).map((conn) => conn.conn_id).join(',');
        if (connTd.dataset.signature !== signature) {
            // Rebuilt only when the connections changed, so a focused button stays put.
            connTd.dataset.signature = signature;
            connTd.replaceChildren(connectionsCell(user));
        }
    });
}

function renderUsers(answer) {
    userRows($('users-table').tBodies[0], answer.items);
    pagers.users.update(answer);
    $('users-empty').hidden = answer.items.length > 0;
    $('users-empty').textContent = answer.q ? 'No user matches the filter.' : 'No one is connected.';
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
    if (view.data) renderChannels(view.data.channels);
    if (name !== null && focus) $('channel-title').focus();
    // The channel's own answer (history, members, rate) comes with the next poll: now.
    if (name !== null && view.data && !view.paused) poll();
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
    const channel = view.data.channel;
    if (channel === undefined || (channel && channel.name !== view.channel)) return;
    $('channel-gone').hidden = Boolean(channel);
    for (const node of section.querySelectorAll('form button, form input, form textarea')) {
        node.disabled = !channel;
    }
    $('chart-channel').hidden = !channel;
    if (!channel) {
        setText($('channel-meta'), '');
        return;
    }
    const minutes = view.data.summary.trends.minutes;
    drawChart($('chart-channel'), channel.rates, {
        slots: minutes * 60 / channel.interval, minutes,
        label: `Messages per second in ${channel.name}`, format: formatRate,
    });
    setText($('channel-meta'), `${plural(channel.total_users, 'user')} · `
        + `${plural(channel.total_connections, 'connection')} · last active `
        + `${shortTime(channel.last_active)} UTC · stream offset ${channel.offset ?? '–'}`);
    if (!view.configDirty || view.configShownFor !== view.channel) showConfig(channel.settings);

    const users = channel.members || [];
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
    const standIn = button.dataset.standIn === 'true';
    const short = standIn ? connId.slice(6, 14) : connId.slice(0, 8);
    const confirmed = await confirmAction(standIn ? {
        title: `End ${user}'s presence?`,
        text: `Stand-in ${short} holds the presence of ${user}'s connection that went, for `
            + 'presence_grace. Disconnecting it ends that presence now: the channels are told '
            + `${user} left, unless another connection of theirs is there.`,
        confirm: 'End presence',
    } : {
        title: `Disconnect ${user}?`,
        text: `Connection ${short} of ${user} is closed within a second; a client may `
            + 'connect again by itself.',
        confirm: 'Disconnect',
    });
    if (!confirmed) return;
    button.disabled = true;
    try {
        const answer = await postJson(urls.disconnect, { conn_id: connId });
        toast(answer.disconnected
            ? `Disconnected ${user}'s connection ${short}; it closes within a second.`
            : `Connection ${short} was already gone.`);
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
$('pause').addEventListener('click', () => {
    view.paused = !view.paused;
    $('pause').setAttribute('aria-pressed', String(view.paused));
    $('pause').textContent = view.paused ? 'Resume updates' : 'Pause updates';
    if (view.paused) {
        clearTimeout(view.timer);
        setLive('paused', 'Updates paused');
    } else {
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
