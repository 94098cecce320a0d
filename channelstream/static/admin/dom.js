// The admin panel's small helpers: building and updating elements without losing focus,
// and writing numbers, rates, times and states for people. Server data goes in through
// textContent only.

export function el(tag, props = {}, ...children) {
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

export function setText(node, text) {
    const value = String(text);
    if (node.textContent !== value) node.textContent = value;
}

export function formatNumber(value) {
    return Number(value).toLocaleString('en');
}

export function plural(count, noun) {
    return `${formatNumber(count)} ${noun}${count === 1 ? '' : 's'}`;
}

export function formatRate(value) {
    if (!Number.isFinite(value)) return '–';
    return value >= 100 ? formatNumber(Math.round(value)) : value.toFixed(1);
}

export function formatUptime(seconds) {
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

export function shortTime(iso) {
    if (!iso) return '';
    const [date, time] = String(iso).split('T');
    return time ? `${date} ${time.slice(0, 8)}` : String(iso);
}

export function stateText(state) {
    const entries = Object.entries(state || {});
    if (!entries.length) return '—';
    return entries.map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join(', ');
}

// Keep one element per key across renders, so focus and scroll stay where they are.
export function syncChildren(container, items, keyOf, create, update) {
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
