// The demo chat page: a thin layer over channelstream's ChannelStreamConnection.
// "channelstream" is mapped (import map in the page) to the server's
// /static/channelstream/channelstream.js.
import {ChannelStreamConnection} from 'channelstream';

const config = JSON.parse(document.getElementById('demo-config').textContent);
const params = new URLSearchParams(window.location.search);
const channel = params.get('channel') || config.channel;
const byId = (id) => document.getElementById(id);

/** Public state of everyone in the room: username -> {typing: bool}. */
const people = new Map();
let connection = null;
let historyShown = false;
let typing = false;
let typingTimer = null;

// What happened, for the browser tests and for debugging from the console.
const trace = {statuses: [], gaps: [], received: [], transports: []};
window.chatDemo = trace;

// -- rendering -------------------------------------------------------------------

function timeOf(timestamp) {
    if (!timestamp) {
        return '';
    }
    // The server sends naive UTC ISO timestamps.
    const date = new Date(timestamp.endsWith('Z') ? timestamp : timestamp + 'Z');
    return date.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
}

function addMessage(message, extraClass) {
    const item = document.createElement('li');
    item.className = 'message';
    if (extraClass) {
        item.classList.add(extraClass);
    }
    if (message.catchup) {
        item.classList.add('catchup');
    }
    item.dataset.uuid = message.uuid;
    if (message.offset !== undefined) {
        item.dataset.offset = String(message.offset);
    }
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = message.user;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = (message.message && message.message.text) || '';
    const time = document.createElement('time');
    time.dateTime = message.timestamp || '';
    time.textContent = timeOf(message.timestamp);
    item.append(author, text, time);
    appendToLog(item);
}

function addSystemLine(text) {
    const item = document.createElement('li');
    item.className = 'system';
    item.textContent = text;
    appendToLog(item);
}

function appendToLog(item) {
    const list = byId('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    if (atBottom) {
        list.scrollTop = list.scrollHeight;
    }
}

function findMessage(uuid) {
    return [...byId('messages').querySelectorAll('li.message')].find((li) => li.dataset.uuid === uuid);
}

function renderPeople() {
    const list = byId('users');
    list.replaceChildren();
    const names = [...people.keys()].sort();
    for (const name of names) {
        const item = document.createElement('li');
        item.dataset.user = name;
        const label = document.createElement('span');
        label.className = 'name';
        label.textContent = name;
        item.append(label);
        if (name === connection.username) {
            const me = document.createElement('span');
            me.className = 'me';
            me.textContent = '(you)';
            item.append(me);
        }
        const state = people.get(name) || {};
        if (state.typing) {
            item.dataset.typing = 'true';
            const badge = document.createElement('span');
            badge.className = 'typing';
            badge.textContent = 'typing…';
            item.append(badge);
        }
        list.append(item);
    }
    byId('user-count').textContent = `(${names.length})`;
    const others = names.filter((name) => name !== connection.username && (people.get(name) || {}).typing);
    byId('typing').textContent = others.length === 0 ? ''
        : others.length === 1 ? `${others[0]} is typing…` : `${others.join(', ')} are typing…`;
}

function renderStatus() {
    const status = connection ? connection.status : 'closed';
    const element = byId('status');
    element.dataset.status = status;
    element.dataset.transport = (connection && connection.transport) || '';
    const transport = connection && connection.transport ? ` · ${connection.transport}` : '';
    element.textContent = status + transport;
}

// -- what the server sends -------------------------------------------------------------

function handleMessages(messages) {
    let peopleChanged = false;
    for (const message of messages) {
        trace.received.push(message);
        if (message.channel !== channel && message.channel !== null) {
            continue;
        }
        switch (message.type) {
            case 'message':
                addMessage(message);
                break;
            case 'message:edit': {
                const item = findMessage(message.uuid);
                if (item && message.message) {
                    item.querySelector('.text').textContent = message.message.text;
                    item.classList.add('edited');
                }
                break;
            }
            case 'message:delete': {
                const item = findMessage(message.uuid);
                if (item) {
                    item.remove();
                }
                break;
            }
            case 'presence':
                if (Array.isArray(message.users) && message.users.length) {
                    // broadcast_presence_with_user_lists: the full list, with public state.
                    people.clear();
                    for (const entry of message.users) {
                        people.set(entry.user, entry.state || {});
                    }
                }
                if (message.message.action === 'joined') {
                    people.set(message.user, message.state || people.get(message.user) || {});
                    addSystemLine(`${message.user} joined`);
                } else if (message.message.action === 'parted') {
                    people.delete(message.user);
                    addSystemLine(`${message.user} left`);
                }
                people.set(connection.username, people.get(connection.username) || {});
                peopleChanged = true;
                break;
            case 'user_state_change':
                people.set(message.user, message.message.state || {});
                peopleChanged = true;
                break;
            default:
                break;
        }
    }
    if (peopleChanged) {
        renderPeople();
    }
}

function handleConnect(request, data) {
    const info = data.channels_info || {};
    const channelInfo = (info.channels || {})[channel] || {};
    const states = new Map((info.users || []).map((entry) => [entry.user, entry.state || {}]));
    people.clear();
    for (const name of channelInfo.users || []) {
        people.set(name, states.get(name) || {});
    }
    people.set(connection.username, states.get(connection.username) || {});
    renderPeople();
    if (!historyShown) {
        // Only on the first connect: later ones resume from the remembered offsets.
        for (const message of channelInfo.history || []) {
            addMessage(message, 'history');
        }
        historyShown = true;
    }
}

function handleGap(gap) {
    trace.gaps.push(gap);
    const notice = byId('gap-notice');
    notice.dataset.reason = gap.reason;
    byId('gap-text').textContent = gap.reason === 'epoch'
        ? 'Reconnected, but messages sent while you were away could not be recovered: the server restarted and lost them.'
        : 'Reconnected, but some older messages sent while you were away could not be recovered.';
    notice.hidden = false;
}

// -- what the user does ------------------------------------------------------------

function setTyping(value) {
    if (typing === value) {
        return;
    }
    typing = value;
    connection.updateUserState({typing: value});
}

function join(username) {
    connection = new ChannelStreamConnection();
    connection.username = username;
    connection.channels = [channel];
    connection.connectUrl = '/connect';
    connection.subscribeUrl = '/subscribe';
    connection.unsubscribeUrl = '/unsubscribe';
    connection.userStateUrl = '/user_state';
    connection.messageUrl = '/message';
    connection.messageEditUrl = '/message';
    connection.messageDeleteUrl = '/message';
    connection.websocketUrl = config.websocketUrl;
    connection.longPollUrl = config.longPollUrl;
    connection.disconnectUrl = config.disconnectUrl;
    connection.noWebsocket = params.has('longpoll');
    connection.debug = params.has('debug');

    connection.connectCallback = handleConnect;
    connection.listenMessageCallback = handleMessages;
    connection.gapCallback = handleGap;
    connection.statusCallback = (status) => {
        trace.statuses.push(status);
        renderStatus();
    };
    connection.listenOpenedCallback = () => {
        byId('join-error').textContent = '';
        trace.transports.push(connection.transport);
        renderStatus();
    };
    connection.connectErrorCallback = (request, data) => {
        byId('join-error').textContent = (data && data.error) || 'Could not connect, retrying…';
    };
    window.chatDemo.connection = connection;

    byId('room-name').textContent = channel;
    byId('join-form').hidden = true;
    byId('chat').hidden = false;
    document.title = `${username} · channelstream chat (${config.framework} demo)`;
    connection.connect();
    byId('message-input').focus();
}

byId('join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = byId('username').value.trim();
    if (name) {
        join(name);
    }
});

byId('message-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId('message-input');
    const text = input.value.trim();
    if (!text) {
        return;
    }
    connection.message({username: connection.username, channel: channel, message: {text: text}});
    input.value = '';
    clearTimeout(typingTimer);
    setTyping(false);
});

byId('message-input').addEventListener('input', () => {
    setTyping(byId('message-input').value.length > 0);
    clearTimeout(typingTimer);
    // Stop "typing" after a pause, like most chats do.
    typingTimer = setTimeout(() => setTyping(false), 3000);
});

// Leaving the page: tell channelstream now, so the others see "left" at once instead of
// after the server's idle timeout. keepalive lets the request outlive the page.
window.addEventListener('pagehide', () => {
    if (connection && connection.connectionId && connection.status !== 'closed') {
        const url = `${config.disconnectUrl}?conn_id=${encodeURIComponent(connection.connectionId)}`;
        fetch(url, {keepalive: true, mode: 'no-cors'}).catch(() => {});
    }
});

byId('gap-dismiss').addEventListener('click', () => {
    byId('gap-notice').hidden = true;
});

if (params.get('username')) {
    join(params.get('username'));
} else {
    byId('username').focus();
}
