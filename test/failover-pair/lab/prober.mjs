// The client side of the failover-pair lab. Two modes, both printing one JSON object per line:
//   probe <host> <port> <intervalMs>   a short connection every interval: {t, ok, via} or {t, ok:false, err}
//   hold  <host> <port> <count> <pingMs>  long-lived connections that ping and expect the echo; prints
//                                          {t, event:'open'|'drop', i, via} and on SIGTERM {event:'summary', ...}
import net from 'node:net';

const [mode, host, portText, a, b] = process.argv.slice(2);
const port = Number(portText);
// Epoch milliseconds with a fractional part (performance.now's resolution), comparable with Date.now(): per-connection
// latency in the benchmark is well under a millisecond.
const now = () => performance.timeOrigin + performance.now();
const out = (o) => process.stdout.write(JSON.stringify({ t: now(), ...o }) + '\n');

function once() {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let buf = '';
    const done = (r) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, err: 'timeout' }), 1000);
    socket.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) {
        const [app, via, appPort] = buf.trim().split(' ');
        done({ ok: true, via, app, appPort: Number(appPort) });
      }
    });
    socket.on('error', (e) => done({ ok: false, err: e.code ?? e.message }));
    socket.on('close', () => done({ ok: false, err: 'closed' }));
  });
}

if (mode === 'probe') {
  const interval = Number(a);
  let stop = false;
  process.on('SIGTERM', () => {
    stop = true;
  });
  while (!stop) {
    const started = now();
    out({ start: started, ...(await once()) });
    const wait = interval - (now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  process.exit(0);
} else if (mode === 'hold') {
  const count = Number(a);
  const pingMs = Number(b);
  const stats = { opened: 0, dropped: 0, pings: 0, echoes: 0 };
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ host, port });
    let greeted = false;
    let closing = false;
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      if (!greeted) {
        greeted = true;
        stats.opened++;
        out({ event: 'open', i, via: d.split(' ')[1]?.trim(), app: d.split(' ')[0] });
        return;
      }
      stats.echoes += (d.match(/p/g) ?? []).length;
    });
    const onEnd = (why) => {
      if (closing) return;
      closing = true;
      stats.dropped++;
      out({ event: 'drop', i, why });
    };
    socket.on('error', (e) => onEnd(e.code ?? e.message));
    socket.on('close', () => onEnd('closed'));
    const timer = setInterval(() => {
      if (greeted && !closing) {
        stats.pings++;
        socket.write('p');
      }
    }, pingMs);
    sockets.push({ socket, timer, stop: () => { closing = true; clearInterval(timer); socket.destroy(); } });
  }
  process.on('SIGTERM', () => {
    for (const s of sockets) s.stop();
    out({ event: 'summary', ...stats });
    process.exit(0);
  });
}
