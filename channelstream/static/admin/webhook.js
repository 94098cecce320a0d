// The webhook panel of the admin dashboard: renders admin.json's `webhook` object
// (docs/webhooks.md). Its own module, so that the dashboard's other parts can change
// without touching it; admin.js calls renderWebhook(data.webhook) after every poll.

const $ = (id) => document.getElementById(id);

function put(id, text) {
    const node = $(id);
    const value = String(text);
    if (node.textContent !== value) node.textContent = value;
}

function when(iso) {
    if (!iso) return 'never';
    const [date, time] = String(iso).split('T');
    return time ? `${date} ${time.slice(0, 8)} UTC` : String(iso);
}

function count(value) {
    return Number(value || 0).toLocaleString('en');
}

export function renderWebhook(webhook) {
    const section = $('webhook-panel');
    if (!section) return;
    if (!webhook || !webhook.enabled) {
        section.dataset.state = 'off';
        put('webhook-status', 'Off (channelstream.webhook_url is empty)');
        section.querySelector('.webhook-details').hidden = true;
        return;
    }
    const failing = Boolean(webhook.failing_since);
    section.dataset.state = failing ? 'failing' : 'ok';
    put('webhook-status', failing
        ? `Failing since ${when(webhook.failing_since)}: ${webhook.last_error || 'no answer'}`
        : 'Delivering');
    section.querySelector('.webhook-details').hidden = false;
    put('webhook-url', webhook.url);
    put('webhook-pending', count(webhook.pending));
    put('webhook-sent', count(webhook.sent));
    put('webhook-last-success', when(webhook.last_success));
    put('webhook-failures', count(webhook.failures));
    put('webhook-last-failure', webhook.last_failure
        ? `${when(webhook.last_failure)}: ${webhook.last_error || ''}` : 'never');
    put('webhook-dropped', `${count(webhook.dropped)} dropped by the cap, `
        + `${count(webhook.abandoned)} given up after retrying`);
    put('webhook-sender', webhook.this_node_sends ? 'this node' : (webhook.sender || '–'));
    for (const [id, value] of Object.entries({
        'webhook-pending': webhook.pending, 'webhook-failures': webhook.failures,
        'webhook-dropped': webhook.dropped,
    })) {
        $(id).dataset.value = String(value);
    }
}
