// livedance view: the dancers in 3D, from the live engine over a WebSocket or from a render.
// Poses are applied in requestAnimationFrame from the newest frame received (live) or from the
// frame at the music's current time (replay). Wire format: livedance/output/view.py.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/OrbitControls.js';

const $ = (id) => document.getElementById(id);
const COLORS = [0xff7a30, 0x38bdf8, 0xa3e635, 0xf472b6, 0xfacc15, 0xc084fc, 0x2dd4bf, 0xf87171];

// -- scene --------------------------------------------------------------------------------------
const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(window.devicePixelRatio);
renderer.setSize(window.innerWidth, window.innerHeight);
renderer.shadowMap.enabled = true;
renderer.shadowMap.type = THREE.PCFShadowMap;
$('scene').appendChild(renderer.domElement);

const scene = new THREE.Scene();
scene.background = new THREE.Color(0x20242c);
scene.fog = new THREE.Fog(0x20242c, 8, 20);
const camera = new THREE.PerspectiveCamera(45, window.innerWidth / window.innerHeight, 0.05, 100);
camera.position.set(0.9, 1.5, 3.6);
const controls = new OrbitControls(camera, renderer.domElement);
controls.target.set(0, 0.9, 0);
controls.enableDamping = true;
controls.update();

scene.add(new THREE.HemisphereLight(0xdfe8ff, 0x30343c, 1.6));
const sun = new THREE.DirectionalLight(0xffffff, 2.2);
sun.position.set(2.5, 6, 3);
sun.castShadow = true;
sun.shadow.mapSize.set(1024, 1024);
Object.assign(sun.shadow.camera, { left: -4, right: 4, top: 4, bottom: -4, near: 0.5, far: 20 });
scene.add(sun, sun.target);

const floor = new THREE.Mesh(
  new THREE.PlaneGeometry(60, 60),
  new THREE.MeshStandardMaterial({ color: 0x2c313b, roughness: 0.95 }),
);
floor.rotation.x = -Math.PI / 2;
floor.receiveShadow = true;
scene.add(floor);
const grid = new THREE.GridHelper(60, 120, 0x8a96ad, 0x4d586b);
grid.position.y = 0.002;
scene.add(grid);

// -- dancers ------------------------------------------------------------------------------------
class Dancer {
  constructor(parents, names, color) {
    this.parents = parents;
    const bodyMat = new THREE.MeshStandardMaterial({ color, roughness: 0.45, metalness: 0.1 });
    const jointMat = new THREE.MeshStandardMaterial({ color: 0xf5f5f5, roughness: 0.4 });
    const sphere = new THREE.SphereGeometry(1, 16, 12);
    const cylinder = new THREE.CylinderGeometry(1, 1, 1, 10);
    this.joints = names.map((name) => {
      const m = new THREE.Mesh(sphere, name === 'head' ? bodyMat : jointMat);
      m.scale.setScalar(name === 'head' ? 0.1 : name.includes('dir') || name.includes('side') ? 0.012 : 0.03);
      m.castShadow = true;
      scene.add(m);
      return m;
    });
    this.bones = parents.map((p) => {
      if (p < 0) return null;
      const m = new THREE.Mesh(cylinder, bodyMat);
      m.castShadow = true;
      scene.add(m);
      return m;
    });
    this.ring = new THREE.Mesh(
      new THREE.RingGeometry(0.35, 0.45, 48),
      new THREE.MeshBasicMaterial({ color, transparent: true, opacity: 0 }),
    );
    this.ring.rotation.x = -Math.PI / 2;
    this.ring.position.y = 0.005;
    scene.add(this.ring);
    this.root = new THREE.Vector3();
  }

  // xyz: Float32Array, J * 3 values from offset, metres, y-up
  set(xyz, offset) {
    const up = new THREE.Vector3(0, 1, 0);
    const dir = new THREE.Vector3();
    const n = this.joints.length;
    let cx = 0, cz = 0;
    for (let j = 0; j < n; j++) {
      const k = offset + 3 * j;
      this.joints[j].position.set(xyz[k], xyz[k + 1], xyz[k + 2]);
      cx += xyz[k]; cz += xyz[k + 2];
    }
    this.root.set(cx / n, 0, cz / n);
    this.ring.position.x = this.root.x;
    this.ring.position.z = this.root.z;
    for (let j = 0; j < n; j++) {
      const bone = this.bones[j];
      if (!bone) continue;
      const a = this.joints[this.parents[j]].position, b = this.joints[j].position;
      dir.subVectors(b, a);
      const len = dir.length();
      bone.position.addVectors(a, b).multiplyScalar(0.5);
      bone.scale.set(0.022, Math.max(len, 1e-4), 0.022);
      if (len > 1e-6) bone.quaternion.setFromUnitVectors(up, dir.divideScalar(len));
    }
  }
}

// -- state shared with tests (window.livedance) ----------------------------------------------
const state = {
  mode: null, frames: 0, index: -1, tempo: 0, style: '', status: null, controlsSent: 0,
  beatCount: 0, lastBeat: -1, connected: false,
};
window.livedance = state;
let dancers = [];
let latest = null; // newest frame: Float32Array
let hello = null;

// The projected box (CSS px) around every joint of every dancer: where the dancers are.
state.dancerBox = () => {
  const v = new THREE.Vector3();
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const d of dancers) for (const m of d.joints) {
    v.copy(m.position).project(camera);
    const x = (v.x + 1) / 2 * window.innerWidth, y = (1 - v.y) / 2 * window.innerHeight;
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  return { x0, y0, x1, y1 };
};

function beatFlash(count, inBar) {
  state.beatCount = count;
  state.lastBeat = performance.now();
  const dots = $('beats').children;
  const k = inBar >= 0 ? Math.round(inBar) % dots.length : (count - 1) % dots.length;
  for (let i = 0; i < dots.length; i++) dots[i].classList.toggle('on', i === k);
}

function showTempo(bpm) {
  state.tempo = bpm;
  $('tempo').textContent = bpm > 0 ? `${bpm.toFixed(1)} BPM` : '--- BPM';
}

// -- OSC out: the control panel speaks the control port's messages ----------------------------
function oscString(s) {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array((bytes.length + 4) & ~3);
  out.set(bytes);
  return out;
}

function oscMessage(address, args) {
  const parts = [oscString(address), oscString(',' + args.map((a) => a.t).join(''))];
  for (const a of args) {
    if (a.t === 's') { parts.push(oscString(a.v)); continue; }
    const b = new DataView(new ArrayBuffer(4));
    if (a.t === 'f') b.setFloat32(0, a.v); else b.setInt32(0, a.v);
    parts.push(new Uint8Array(b.buffer));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

let socket = null;
function sendControl(address, args) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  socket.send(oscMessage(address, args));
  state.controlsSent += 1;
}

function setupControls(h) {
  const select = $('style-select');
  for (const name of h.style_names) select.add(new Option(name, name));
  const c = h.controls || {};
  if (c.style) select.value = c.style;
  const sliders = { temperature: c.temperature ?? 1, energy: c.energy ?? 1, accent: c.accent ?? 0 };
  for (const [name, value] of Object.entries(sliders)) {
    const input = $(name);
    input.value = value;
    $(name + '-value').textContent = Number(value).toFixed(2);
    input.addEventListener('input', () => {
      $(name + '-value').textContent = Number(input.value).toFixed(2);
      sendControl('/livedance/' + name, [{ t: 'f', v: Number(input.value) }]);
    });
  }
  select.addEventListener('change', () => sendControl('/livedance/style', [{ t: 's', v: select.value }]));
  $('reset').addEventListener('click', () => sendControl('/livedance/reset', []));
}

// -- live: frames over the WebSocket -----------------------------------------------------------
function connect() {
  socket = new WebSocket(`ws://${location.host}/ws`);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => { state.connected = true; $('state').textContent = ''; };
  socket.onclose = () => {
    state.connected = false;
    $('state').textContent = 'engine gone: reconnecting';
    setTimeout(connect, 1000);
  };
  socket.onmessage = (ev) => {
    if (typeof ev.data === 'string') {
      const msg = JSON.parse(ev.data);
      if (msg.type === 'status') {
        state.status = msg;
        state.style = msg.style;
        $('style').textContent = msg.style;
        $('latency').textContent = msg.latency_p99_ms != null ? `${msg.latency_p99_ms.toFixed(2)} ms` : '-';
      }
      return;
    }
    latest = new Float32Array(ev.data);
  };
}

function applyLive() {
  if (!latest) return;
  const f = latest;
  latest = null;
  const H = hello.header.length;
  const at = (name) => f[hello.header.indexOf(name)];
  const B = at('dancers'), J = at('joints');
  for (let d = 0; d < Math.min(B, dancers.length); d++) dancers[d].set(f, H + d * J * 3);
  state.frames += 1;
  state.index = at('index');
  showTempo(at('tempo_bpm'));
  if (at('beat_count') > state.beatCount) beatFlash(at('beat_count'), at('beat_in_bar'));
  $('time').textContent = `${at('audio_time').toFixed(1)} s`;
  $('frames').textContent = String(state.frames);
}

// -- replay: a render and its music ------------------------------------------------------------
let render = null;
const audio = $('audio');
let clockStart = performance.now();
let paused = false;

function replayTime() {
  const duration = hello.frames / hello.fps;
  if (hello.audio) return audio.currentTime;
  if (paused) return clockStart;
  let t = (performance.now() - clockStart) / 1000;
  if (t >= duration) {
    if ($('loop').checked) { clockStart = performance.now(); t = 0; } else t = duration - 1 / hello.fps;
  }
  return t;
}

function setupReplay() {
  $('replay').style.display = 'flex';
  $('controls').style.display = 'none';
  $('style').textContent = hello.style;
  $('latency').textContent = 'render';
  const scrub = $('scrub');
  scrub.max = String(hello.frames - 1);
  if (hello.audio) {
    audio.src = '/audio';
    audio.loop = $('loop').checked;
  }
  $('loop').addEventListener('change', () => { audio.loop = $('loop').checked; });
  $('play').addEventListener('click', () => {
    if (hello.audio) {
      if (audio.paused) audio.play(); else audio.pause();
    } else if (paused) { clockStart = performance.now() - clockStart * 1000; paused = false; }
    else { clockStart = replayTime(); paused = true; }
  });
  scrub.addEventListener('input', () => {
    const t = Number(scrub.value) / hello.fps;
    if (hello.audio) audio.currentTime = t; else if (paused) clockStart = t;
    else clockStart = performance.now() - t * 1000;
  });
  if (hello.audio) audio.play().catch(() => { $('state').textContent = 'press play for sound'; });
}

let lastReplayT = 0;
function applyReplay() {
  const t = replayTime();
  const k = Math.min(hello.frames - 1, Math.max(0, Math.floor(t * hello.fps)));
  const J = hello.joint_names.length;
  dancers[0].set(render, k * J * 3);
  state.frames += 1;
  state.index = k;
  $('scrub').value = String(k);
  $('time').textContent = `${t.toFixed(1)} s`;
  $('frames').textContent = `${k + 1} / ${hello.frames}`;
  const beats = hello.beat_times;
  const passed = beats.filter((b) => b > lastReplayT && b <= t).length;
  if (passed && t > lastReplayT) beatFlash(state.beatCount + 1, -1);
  const recent = beats.filter((b) => b <= t).slice(-9);
  if (recent.length > 2) {
    const gaps = recent.slice(1).map((b, i) => b - recent[i]).sort((a, b) => a - b);
    showTempo(60 / gaps[Math.floor(gaps.length / 2)]);
  }
  lastReplayT = t;
}

// -- the loop -----------------------------------------------------------------------------------
// The camera follows the dancers' centre (smoothed over ~0.4 s, whatever the frame rate) and backs
// off so that they all stay in view; the user can still orbit and zoom out.
const follow = new THREE.Vector3(0, 0.9, 0);
let lastTick = performance.now();
function animate() {
  requestAnimationFrame(animate);
  const now = performance.now();
  const dt = Math.min(1, (now - lastTick) / 1000);
  lastTick = now;
  if (hello) (hello.mode === 'live' ? applyLive : applyReplay)();
  if (dancers.length) {
    const c = new THREE.Vector3();
    for (const d of dancers) c.add(d.root);
    c.divideScalar(dancers.length).setY(0.9);
    let spread = 0;
    for (const d of dancers) spread = Math.max(spread, Math.hypot(d.root.x - c.x, d.root.z - c.z));
    const before = follow.clone();
    follow.lerp(c, 1 - Math.exp(-dt / 0.4));
    camera.position.add(follow.clone().sub(before));
    const away = camera.position.clone().sub(follow);
    const least = 3.4 + 1.6 * spread;
    if (away.length() < least) camera.position.copy(follow).add(away.setLength(least));
    controls.target.copy(follow);
    sun.position.set(follow.x + 2.5, 6, follow.z + 3);
    sun.target.position.copy(follow);
  }
  const since = (performance.now() - state.lastBeat) / 1000;
  const pulse = state.lastBeat < 0 ? 0 : Math.exp(-since / 0.12);
  $('flash').style.opacity = String(0.55 * pulse);
  for (const d of dancers) d.ring.material.opacity = 0.85 * pulse;
  controls.update();
  renderer.render(scene, camera);
}

window.addEventListener('resize', () => {
  camera.aspect = window.innerWidth / window.innerHeight;
  camera.updateProjectionMatrix();
  renderer.setSize(window.innerWidth, window.innerHeight);
});

async function main() {
  hello = await (await fetch('/hello.json')).json();
  state.mode = hello.mode;
  for (let d = 0; d < hello.dancers; d++) {
    dancers.push(new Dancer(hello.parents, hello.joint_names, COLORS[d % COLORS.length]));
  }
  if (hello.mode === 'live') {
    setupControls(hello);
    connect();
  } else {
    render = new Float32Array(await (await fetch('/render.bin')).arrayBuffer());
    setupReplay();
  }
  animate();
}

main();
