// Line charts with uPlot (from npm, vendor/uPlot.esm.js), sized to their
// container and redrawn when it changes size. Each chart is a figure with a
// text summary for screen readers and the numbers in a table beneath.
import uPlot from './vendor/uPlot.esm.js';
import { h } from './dom.js';
import { currentLanguage, t } from './i18n.js';

export const BAND_COLORS = {
  green: '#15803d', yellow: '#a16207', orange: '#c2410c', red: '#b91c1c', lost: '#4b5563', new: '#1d4ed8', unscored: '#6b7280',
};
const FALLBACK_COLORS = ['#1d4ed8', '#7c3aed', '#0f766e', '#be185d', '#4d7c0f', '#9a3412'];

export function colorOf(name, index) {
  return BAND_COLORS[name] || FALLBACK_COLORS[index % FALLBACK_COLORS.length];
}

// A run's as-of date is a calendar date (UTC midnight): labelled as such, not moved into the user's zone.
function dateLabel(seconds) {
  return new Intl.DateTimeFormat(currentLanguage(), { timeZone: 'UTC', month: 'short', day: 'numeric', year: '2-digit' })
    .format(new Date(seconds * 1000));
}

// x: epoch seconds; series: [{ label, values, color }]; thresholds: [{ value, label, color }] drawn as dashed lines.
export function lineChart({ title, summary, x, series, thresholds = [], yLabel, height = 240, yRange }) {
  const plotBox = h('div', { class: 'chart-plot' });
  const figure = h('figure', { class: 'chart' },
    h('figcaption', {}, title),
    h('div', { role: 'img', 'aria-label': summary || title }, plotBox));
  const data = [x, ...series.map((one) => one.values)];
  const options = {
    width: 300,
    height,
    legend: { show: true, live: false },
    cursor: { show: true, drag: { x: false, y: false }, points: { size: 7 } },
    scales: { x: { time: false }, y: yRange ? { range: yRange } : { auto: true } },
    axes: [
      { values: (u, values) => values.map(dateLabel), space: 70, stroke: '#374151', grid: { stroke: '#e5e7eb' } },
      { label: yLabel, stroke: '#374151', grid: { stroke: '#e5e7eb' }, size: 48 },
    ],
    series: [
      { label: t('chart.date'), value: (u, v) => (v == null ? '—' : dateLabel(v)) },
      ...series.map((one) => ({
        label: one.label, stroke: one.color, width: 2, points: { show: true, size: 6, fill: one.color }, spanGaps: true,
      })),
    ],
    hooks: {
      draw: [(u) => {
        const { ctx } = u;
        ctx.save();
        for (const line of thresholds) {
          const y = u.valToPos(line.value, 'y', true);
          if (!Number.isFinite(y)) continue;
          ctx.strokeStyle = line.color || '#6b7280';
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.lineWidth = devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillStyle = line.color || '#374151';
          ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
          ctx.textAlign = 'right';
          ctx.fillText(line.label, u.bbox.left + u.bbox.width - 4 * devicePixelRatio, y - 3 * devicePixelRatio);
        }
        ctx.restore();
      }],
    },
  };
  let plot = null;
  const draw = () => {
    const width = Math.max(240, Math.floor(plotBox.clientWidth));
    if (!plot) {
      plot = new uPlot({ ...options, width }, data, plotBox);
    } else if (plot.width !== width) {
      plot.setSize({ width, height });
    }
  };
  // Drawn once the figure is in the document (its width is known then).
  const observer = new ResizeObserver(() => {
    if (!figure.isConnected) {
      observer.disconnect();
      plot?.destroy();
      return;
    }
    draw();
  });
  observer.observe(plotBox);
  return figure;
}
