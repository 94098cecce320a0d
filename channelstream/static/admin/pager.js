// A paged, sorted, filtered list the server answers a page of at a time
// (/admin/channels.json, /admin/users.json): its query, and its controls (filter, sort,
// previous / next, "1–50 of 200"), found by id under one prefix.

const $ = (id) => document.getElementById(id);
// Typing in a filter asks the server once the typing pauses.
const FILTER_DELAY_MS = 250;

export class Pager {
    constructor(prefix, url, { filterId, limit = 50, onChange }) {
        this.url = url;
        this.offset = 0;
        this.limit = limit;
        this.total = 0;
        this.onChange = onChange;
        this.filter = $(filterId);
        this.sort = $(`${prefix}-sort`);
        this.prev = $(`${prefix}-prev`);
        this.next = $(`${prefix}-next`);
        this.range = $(`${prefix}-range`);
        this.prev.addEventListener('click', () => this.move(-1));
        this.next.addEventListener('click', () => this.move(1));
        this.sort.addEventListener('change', () => this.restart());
        this.filter.addEventListener('input', () => {
            clearTimeout(this.timer);
            this.timer = setTimeout(() => this.restart(), FILTER_DELAY_MS);
        });
    }

    get q() {
        return this.filter.value.trim();
    }

    query() {
        const params = new URLSearchParams({
            offset: String(this.offset),
            limit: String(this.limit),
            sort: this.sort.value,
        });
        if (this.q) params.set('q', this.q);
        return `${this.url}?${params}`;
    }

    restart() {
        this.offset = 0;
        this.onChange();
    }

    move(direction) {
        const offset = this.offset + direction * this.limit;
        if (offset < 0 || offset >= Math.max(this.total, 1)) return;
        this.offset = offset;
        this.onChange();
    }

    // After each answer: the range shown, and which way one can go.
    update(answer) {
        this.total = answer.total;
        if (this.offset > 0 && this.offset >= answer.total) {
            // The list shrank under this page (channels collected): back to its last page.
            this.offset = Math.max(0, Math.floor((answer.total - 1) / this.limit) * this.limit);
            this.onChange();
        }
        const first = answer.items.length ? answer.offset + 1 : 0;
        const last = answer.offset + answer.items.length;
        const text = `${first.toLocaleString('en')}–${last.toLocaleString('en')} of ${answer.total.toLocaleString('en')}`;
        if (this.range.textContent !== text) this.range.textContent = text;
        this.prev.disabled = this.offset === 0;
        this.next.disabled = last >= answer.total;
        this.prev.closest('.pager').hidden = answer.total <= this.limit && this.offset === 0;
    }
}
