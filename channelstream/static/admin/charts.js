// Line charts of the server's trends, drawn as SVG paths of our own (no charting library to
// load or keep up to date). The server keeps the samples (channelstream/trends.py), so a
// chart is full as soon as the page has polled once.

const WIDTH = 300;
const HEIGHT = 80;
// A little room above the highest point, so that a flat line at the top stays visible.
const HEADROOM = 1.15;

// The smallest of 1, 2, 5 x 10^n at least `value`: a scale that reads as a round number.
export function niceTop(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) {
        if (step * power >= value) return step * power;
    }
    return 10 * power;
}

// The line through `values` (oldest first), its newest point on the right edge; `slots` is
// how many samples fill the width (the trend's minutes x 60), so time runs at one pace.
export function linePath(values, top, slots) {
    if (!values.length) return '';
    const span = Math.max(slots - 1, values.length - 1, 1);
    const step = WIDTH / span;
    const start = WIDTH - (values.length - 1) * step;
    return values.map((value, i) => {
        const x = start + i * step;
        const y = HEIGHT - (Math.max(0, value) / top) * HEIGHT;
        return `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    }).join('');
}

function areaPath(line, values, slots) {
    if (!line) return '';
    const span = Math.max(slots - 1, values.length - 1, 1);
    const start = WIDTH - (values.length - 1) * (WIDTH / span);
    return `${line}L${WIDTH},${HEIGHT}L${start.toFixed(1)},${HEIGHT}Z`;
}

function put(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
}

// Draw one chart: `figure` holds an <svg> with path.line and path.area, and elements with
// data-role="now", "peak" and "span". `format` writes a value for people.
export function drawChart(figure, values, { slots, minutes, format, label }) {
    const peak = values.length ? Math.max(...values) : 0;
    const top = niceTop(peak * HEADROOM);
    const line = linePath(values, top, slots);
    const svg = figure.querySelector('svg');
    svg.querySelector('path.line').setAttribute('d', line);
    svg.querySelector('path.area').setAttribute('d', areaPath(line, values, slots));
    const now = values.length ? values[values.length - 1] : NaN;
    put(figure.querySelector('[data-role="now"]'), format(now));
    put(figure.querySelector('[data-role="peak"]'), `peak ${format(peak)}`);
    put(figure.querySelector('[data-role="span"]'), `last ${minutes} min`);
    figure.dataset.points = String(values.length);
    figure.dataset.peak = String(peak);
    svg.setAttribute('aria-label',
        `${label}, last ${minutes} minutes: now ${format(now)}, peak ${format(peak)}`);
}
