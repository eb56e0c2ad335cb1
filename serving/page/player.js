// The players' page: controls made from the service's settings (GET /settings, a JSON schema), one
// press of Generate asks for the same seeded piece as MIDI, WAV and tabs (the service samples
// requests with equal settings as one batch, and the same seed gives the same music).
"use strict";

// The settings shown, in order; `key` only where the service's generator takes one.
const SHOWN = ["key", "seconds", "temperature", "capo", "seed"];
const TAB_ONLY = ["capo"]; // sent to generate_tab only: the other endpoints refuse unknown fields
const TAB_FILES = { musicxml: "download-musicxml", gp5: "download-gp5" };

const form = document.getElementById("settings");
const button = document.getElementById("generate");
const status = document.getElementById("status");
let objectUrls = [];

function say(message, isError = false) {
  status.textContent = message;
  status.className = isError ? "error" : "";
}

// The values a setting may take when the schema lists them (a Literal, possibly optional).
function choices(schema) {
  if (schema.enum) return schema.enum;
  const listed = (schema.anyOf || []).find((option) => option.enum);
  return listed ? listed.enum : null;
}

function control(name, schema) {
  const label = document.createElement("label");
  label.title = schema.description || "";
  label.append(name === "seconds" ? "length (s)" : name);
  const values = choices(schema);
  let input;
  if (values) {
    input = document.createElement("select");
    const nullable = (schema.anyOf || []).some((option) => option.type === "null");
    for (const value of nullable ? [null, ...values] : values) {
      const option = new Option(value === null ? "any" : value, value === null ? "" : value);
      input.add(option);
    }
  } else {
    input = document.createElement("input");
    const integer = schema.type === "integer";
    input.type = schema.type === "string" ? "text" : "number";
    if (input.type === "number") {
      input.min = schema.minimum ?? schema.exclusiveMinimum ?? "";
      input.max = schema.maximum ?? "";
      input.step = integer ? "1" : "0.05";
    }
  }
  input.id = `setting-${name}`;
  input.name = name;
  // a fresh seed per visit (the service's default, 0, would give every visitor the same piece)
  input.value = name === "seed" ? Math.floor(Math.random() * 100000) : schema.default ?? "";
  label.append(input);
  return label;
}

function readSettings(properties) {
  const body = {};
  for (const input of form.querySelectorAll("input, select")) {
    if (input.value === "") continue; // "any": the service's default
    const type = properties[input.name].type;
    body[input.name] = type === "integer" || type === "number" ? Number(input.value) : input.value;
  }
  return body;
}

async function ask(endpoint, body) {
  const answer = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!answer.ok) {
    let reason = `${answer.status}`;
    try {
      const refusal = await answer.json();
      reason = refusal.detail
        ? refusal.detail.map((d) => `${d.loc.join(".")}: ${d.msg}`).join("; ")
        : refusal.error || reason;
    } catch (_) { /* not JSON: the status says it */ }
    throw new Error(`${endpoint}: ${reason}`);
  }
  return answer.blob();
}

function blobUrl(blob) {
  const url = URL.createObjectURL(blob);
  objectUrls.push(url); // revoked when the next piece replaces this one
  return url;
}

// Notes of a Standard MIDI File as {start, end, pitch} in ticks (enough for a piano roll).
function midiNotes(buffer) {
  const data = new DataView(buffer);
  let pos = 0;
  const varLen = () => {
    let value = 0, byte;
    do { byte = data.getUint8(pos++); value = (value << 7) | (byte & 0x7f); } while (byte & 0x80);
    return value;
  };
  const tracks = data.getUint16(10);
  pos = 8 + data.getUint32(4);
  const notes = [];
  for (let track = 0; track < tracks; track++) {
    const end = pos + 8 + data.getUint32(pos + 4);
    pos += 8;
    let tick = 0, running = 0;
    const sounding = new Map();
    while (pos < end) {
      tick += varLen();
      if (data.getUint8(pos) & 0x80) running = data.getUint8(pos++);
      // meta event (type, length, data) or sysex (length, data); the length is read before pos moves on
      if (running === 0xff || running === 0xf0 || running === 0xf7) {
        if (running === 0xff) pos++;
        const length = varLen();
        pos += length;
        continue;
      }
      const kind = running & 0xf0, key = `${running & 0x0f}:${data.getUint8(pos)}`;
      const pitch = data.getUint8(pos), velocity = data.getUint8(pos + 1);
      pos += kind === 0xc0 || kind === 0xd0 ? 1 : 2;
      if (kind === 0x90 && velocity > 0) sounding.set(key, tick);
      else if ((kind === 0x80 || kind === 0x90) && sounding.has(key)) {
        notes.push({ start: sounding.get(key), end: tick, pitch });
        sounding.delete(key);
      }
    }
    pos = end;
  }
  return notes;
}

function drawPianoRoll(notes) {
  const canvas = document.getElementById("pianoroll");
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (!notes.length) return;
  const last = Math.max(...notes.map((n) => n.end));
  const low = Math.min(...notes.map((n) => n.pitch)) - 1, high = Math.max(...notes.map((n) => n.pitch)) + 1;
  const rowHeight = canvas.height / (high - low + 1);
  context.fillStyle = "#b5472f";
  for (const note of notes) {
    const x = (note.start / last) * canvas.width;
    const width = Math.max(1, ((note.end - note.start) / last) * canvas.width);
    context.fillRect(x, (high - note.pitch) * rowHeight, width, Math.max(1, rowHeight - 1));
  }
}

async function generate(properties) {
  const settings = readSettings(properties);
  const piece = Object.fromEntries(Object.entries(settings).filter(([name]) => !TAB_ONLY.includes(name)));
  const tab = { ...piece, capo: settings.capo ?? 0 };
  button.disabled = true;
  say("Generating...");
  objectUrls.forEach((url) => URL.revokeObjectURL(url));
  objectUrls = [];
  try {
    const [midi, audio, ascii, ...files] = await Promise.all([
      ask("generate", piece),
      ask("generate_audio", { ...piece, format: "wav" }),
      ask("generate_tab", { ...tab, format: "ascii" }),
      ...Object.keys(TAB_FILES).map((format) => ask("generate_tab", { ...tab, format })),
    ]);
    document.getElementById("download-midi").href = blobUrl(midi);
    Object.values(TAB_FILES).forEach((id, index) => { document.getElementById(id).href = blobUrl(files[index]); });
    document.getElementById("audio").src = blobUrl(audio);
    document.getElementById("tab").textContent = await ascii.text();
    drawPianoRoll(midiNotes(await midi.arrayBuffer()));
    document.getElementById("result").hidden = false;
    say(`Seed ${piece.seed}: same seed, same music.`);
  } catch (error) {
    say(error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function start() {
  const schema = await (await fetch("settings")).json();
  const properties = schema.properties;
  for (const name of SHOWN.filter((n) => n in properties)) {
    form.insertBefore(control(name, properties[name]), button);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    generate(properties);
  });
  button.disabled = false;
  say("");
}

start().catch((error) => say(`The service's settings cannot be read: ${error.message}`, true));
