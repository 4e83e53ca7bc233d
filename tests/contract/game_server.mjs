// A game server in Node.js that knows Loreweave ONLY through the files of `loreweave schemas export`
// (asyncapi.json, frame.schema.json, <type>.schema.json) and a role's credential file.
//
// It opens a world, joins and moves players, completes a quest, sends every request the document lists
// once, validates every answer and every event it sees against the exported schemas, then sends invalid
// frames and checks each reaches the dead-letter subject the document names.
//
// Environment: LW_CONTRACT (export dir), LW_WORLD, LW_GAME_CREDS (game-server credential file),
// LW_OPS_CREDS (ops: reads dead letters), LW_NODE_CREDS (actor-node: may call lw.ai.*).
// Prints one JSON report; exit status 0 when every check passed.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { connect, headers as natsHeaders, createInbox } from "nats";
import { encode, decode } from "@msgpack/msgpack";
import Ajv2020 from "ajv/dist/2020.js";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const DIR = env("LW_CONTRACT");
const WORLD = env("LW_WORLD");
const DEADLINE_MS = Number(process.env.LW_DEADLINE_MS || 60000);
const doc = JSON.parse(readFileSync(path.join(DIR, "asyncapi.json"), "utf8"));
const failures = [];
const report = { events: {}, requests: {}, deadLetters: {}, skipped: [] };
const fail = (what) => failures.push(what);

// ---- the contract: schemas (JSON Schema 2020-12, as the document says) and channels ----------------
if (doc.info["x-loreweave-schema-dialect"] !== "https://json-schema.org/draft/2020-12/schema") {
  throw new Error("unexpected schema dialect " + doc.info["x-loreweave-schema-dialect"]);
}
const ajv = new Ajv2020({ allErrors: true, strict: true });
for (const keyword of ["x-loreweave-type", "x-loreweave-version", "x-loreweave-key"]) ajv.addKeyword(keyword);
for (const file of readdirSync(DIR).filter((f) => f.endsWith(".schema.json"))) {
  ajv.addSchema(JSON.parse(readFileSync(path.join(DIR, file), "utf8")), file);
}
const messagesByName = doc.components.messages;
const schemaFileOf = (type) => `${type}.schema.json`;
function validateFrame(frame, where) {
  if (!ajv.validate("frame.schema.json", frame)) {
    fail(`${where}: frame invalid: ${ajv.errorsText(ajv.errors)}`);
    return false;
  }
  if (!ajv.getSchema(schemaFileOf(frame.type))) {
    fail(`${where}: no schema for type ${frame.type}`);
    return false;
  }
  if (!ajv.validate(schemaFileOf(frame.type), frame.payload)) {
    fail(`${where}: ${frame.type} payload invalid: ${ajv.errorsText(ajv.errors)}`);
    return false;
  }
  return true;
}
const refName = (ref) => ref.$ref.split("/").pop();
const typeOfMessage = (channel, ref) => {
  const component = doc.channels[channel].messages[refName(ref)];
  return messagesByName[refName(component)]["x-loreweave-type"];
};
// Channels by role: the events of a world, the requests with their reply types, the dead letters.
const eventAddress = {}; // type -> address template
const requests = []; // {type, address, replies, stream, callers, internal}
let deadLetterAddress = null;
const systemAddress = {}; // type -> address of a system subject (no world: lw.sys.heartbeat.actor.{actor})
for (const [opId, op] of Object.entries(doc.operations)) {
  const channelId = refName(op.channel);
  const channel = doc.channels[channelId];
  const types = op.messages.map((m) => typeOfMessage(channelId, m));
  if (op.reply) {
    const replyChannel = refName(op.reply.channel);
    requests.push({
      type: types[0], address: channel.address, stream: op["x-loreweave-stream-reply"] === true,
      replies: op.reply.messages.map((m) => typeOfMessage(replyChannel, m)),
      callers: channel["x-loreweave-callers"], internal: channel["x-loreweave-internal"] === true,
    });
  } else if (channelId === "dead_letters") {
    deadLetterAddress = channel.address;
  } else if (channel.address.startsWith("lw.{world}.")) {
    eventAddress[types[0]] = channel.address;
  } else if (channel["x-loreweave-internal"] !== true) {
    systemAddress[types[0]] = channel.address;
  }
}
const fill = (template, params) => template.replace(/\{(\w+)\}/g, (_, name) => params[name] ?? "*");
const exampleOf = (type) => structuredClone(messagesByName[type.replace(".", "_")].examples[0].payload.payload);

// ---- frames ---------------------------------------------------------------------------------------
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
function ulid() {
  let time = Date.now();
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[time % 32] + out;
    time = Math.floor(time / 32);
  }
  for (const byte of randomBytes(16)) out += CROCKFORD[byte % 32];
  return out;
}
function frame(type, payload, extra = {}) {
  const id = ulid();
  const message = messagesByName[type.replace(".", "_")];
  return {
    version: message["x-loreweave-version"], type, id, ts: Date.now() * 1000, world: WORLD,
    source: "node-game-server", correlation_id: id, causation_id: null, payload, ...extra,
  };
}
function headersOf(f) {
  const h = natsHeaders();
  h.set("Nats-Msg-Id", f.id);
  h.set("traceparent", `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`);
  return h;
}

// ---- connections (server and credentials from the files only) -------------------------------------
const server = doc.servers?.loreweave;
if (!server || server.protocol !== "nats") throw new Error("the document names no NATS server");
async function connectAs(file) {
  const credential = JSON.parse(readFileSync(file, "utf8"));
  return connect({
    servers: server.host, user: credential.user, pass: credential.password,
    inboxPrefix: `_INBOX.${credential.user}`, name: `node-${credential.role}`,
  });
}
const game = await connectAs(env("LW_GAME_CREDS"));
const ops = await connectAs(env("LW_OPS_CREDS"));
const node = await connectAs(env("LW_NODE_CREDS"));
const js = game.jetstream();
const roleConnection = { "game-server": game, ops, "actor-node": node };

const sentInvalid = new Set();
// Every event of the world, checked against the document: the subject is its type's address.
const seen = [];
const events = game.subscribe(`lw.${WORLD}.*.*`);
(async () => {
  for await (const msg of events) {
    if (sentInvalid.has(Buffer.from(msg.data).toString("base64"))) continue; // our own bad frames
    let f;
    try {
      f = decode(msg.data);
    } catch (error) {
      fail(`event on ${msg.subject}: not MessagePack (${error.message})`);
      continue;
    }
    seen.push(f);
    report.events[f.type] = (report.events[f.type] || 0) + 1;
    const address = eventAddress[f.type];
    if (!address) fail(`event ${f.type} on ${msg.subject}: the document has no event channel for it`);
    else if (fill(address, { world: WORLD }) !== msg.subject) fail(`event ${f.type} arrived on ${msg.subject}`);
    if (f.world !== WORLD) fail(`event ${f.type} of world ${f.world} on ${msg.subject}`);
    validateFrame(f, `event ${msg.subject}`);
  }
})();
const letters = [];
const dlq = ops.subscribe(fill(deadLetterAddress, {}));
(async () => {
  for await (const msg of dlq) letters.push({ subject: msg.subject, headers: msg.headers, size: msg.data.length });
})();
// Heartbeats: on their system subject, world "_", valid (read with the ops role).
const heartbeats = [];
const beats = ops.subscribe(fill(systemAddress["actor.heartbeat"], {}));
(async () => {
  for await (const msg of beats) {
    const f = decode(msg.data);
    heartbeats.push(f);
    if (f.type !== "actor.heartbeat" || f.world !== "_") fail(`${f.type} of world ${f.world} on ${msg.subject}`);
    if (msg.subject !== fill(systemAddress["actor.heartbeat"], { actor: f.payload.actor })) {
      fail(`heartbeat of ${f.payload.actor} on ${msg.subject}`);
    }
    validateFrame(f, `heartbeat ${msg.subject}`);
  }
})();
await Promise.all([game.flush(), ops.flush()]);

async function until(what, predicate, ms = DEADLINE_MS) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = predicate();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  fail(`timed out waiting for ${what}`);
  return undefined;
}

async function publish(type, payload) {
  const f = frame(type, payload);
  const subject = fill(eventAddress[type], { world: WORLD });
  await js.publish(subject, encode(f), { msgID: f.id, headers: headersOf(f) });
  return f;
}

// One request: the answer's type must be one the document lists, its frame and payload valid.
async function request(spec, payload, { timeout = 15000, quiet = false } = {}) {
  const f = frame(spec.type, payload);
  const subject = fill(spec.address, { world: WORLD });
  const conn = roleConnection[spec.callers.find((role) => roleConnection[role])];
  const answers = [];
  const inbox = createInbox(conn.options.inboxPrefix);
  const sub = conn.subscribe(inbox);
  await conn.flush();
  conn.publish(subject, encode(f), { reply: inbox, headers: headersOf(f) });
  const timer = setTimeout(() => sub.unsubscribe(), timeout);
  for await (const msg of sub) {
    if (msg.data.length === 0 && msg.headers?.code === 503) break; // NATS: no responders (yet)
    const answer = decode(msg.data);
    answers.push(answer);
    if (!spec.stream || answer.type !== spec.replies[0] || answer.type === "sys.error") break;
  }
  clearTimeout(timer);
  sub.unsubscribe();
  const key = `${spec.type} ${spec.address}`;
  if (!answers.length) {
    if (!quiet) fail(`${key}: no answer within ${timeout} ms`);
    return undefined;
  }
  for (const answer of answers) {
    if (!spec.replies.includes(answer.type)) fail(`${key}: answered ${answer.type}, not one of ${spec.replies}`);
    validateFrame(answer, `reply to ${key}`);
    if (answer.correlation_id !== f.correlation_id) fail(`${key}: reply lost the correlation id`);
    if (answer.causation_id !== f.id) fail(`${key}: reply does not name the request as its cause`);
  }
  const last = answers[answers.length - 1];
  report.requests[key] = answers.length > 1 ? `${answers.length - 1} x ${answers[0].type}, ${last.type}` : last.type;
  if (last.type === "sys.error") report.requests[key] += ` ${last.payload.code}: ${last.payload.message}`;
  return last;
}
const spec = (type, address) => requests.find((r) => r.type === type && (!address || r.address === address));

// ---- play ------------------------------------------------------------------------------------------
// Wait until the actors answer (the document's version.get_report; every actor subscribed before it).
const ready = await (async () => {
  const end = Date.now() + DEADLINE_MS;
  while (Date.now() < end) {
    const answer = await request(spec("version.get_report"), {}, { timeout: 1000, quiet: true });
    if (answer) return answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return undefined;
})();
if (!ready) fail("no actor answered version.get_report");

const regions = ["vel-arath", "cindermouth", "hallowmere"];
await publish("world.opened", {
  title: "Contract", factions: ["abbey"],
  regions: regions.map((id, i) => ({ id, name: id, neighbours: regions.filter((_, j) => Math.abs(i - j) === 1) })),
});
await publish("npc.spawned", { npc_id: "hesper-quill", name: "Hesper Quill", region: "vel-arath" });
await publish("player.joined", { player_id: "p1", name: "Ada", region: "vel-arath" });
await publish("player.joined", { player_id: "p2", name: "Bo", region: "hallowmere" });
await publish("player.moved", { player_id: "p2", region: "vel-arath" });
await until("player.met", () => seen.find((f) => f.type === "player.met"));

const accepted = await request(spec("quest.accept"), { player_id: "p1", quest_id: "lantern-of-saint-irri" });
if (accepted?.type !== "quest.status") fail(`quest.accept answered ${JSON.stringify(accepted?.payload)}`);
await publish("player.spoke", { player_id: "p1", npc_id: "hesper-quill", text: "Where is the lantern?" });
await publish("player.moved", { player_id: "p1", region: "cindermouth" });
await publish("player.collected", { player_id: "p1", item: "saint-irri-lantern", count: 1 });
await until("quest.completed", () => seen.find((f) => f.type === "quest.completed" && f.payload.player_id === "p1"));

// What the document says of frames naming what the world does not know: accepted, never dead-lettered.
await publish("player.moved", { player_id: "ghost", region: "nowhere" }); // never joined, undeclared region
await publish("player.spoke", { player_id: "p1", npc_id: "nobody", text: "Hello?" }); // an NPC never spawned
const ghost = await (async () => {
  const end = Date.now() + DEADLINE_MS;
  while (Date.now() < end) {
    const answer = await request(spec("world.query"), { kind: "player", id: "ghost" });
    if (answer?.payload?.found) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
})();
if (ghost?.payload?.value !== "nowhere") fail(`a never-joined player in an undeclared region: ${JSON.stringify(ghost?.payload)}`);
if (seen.some((f) => f.type === "npc.said" && f.payload.npc_id === "nobody")) fail("an NPC never spawned spoke");

// ---- every request the document lists (internal router-to-tier calls aside) -----------------------
const payloads = {
  "kb.search": { query: "lantern" }, "kb.context": { query: "lantern" },
  "language.translate": { text: "Hello", locale: "fr" },
  "npc.get_state": { npc_id: "hesper-quill" },
  "payment.purchase": { purchase_key: ulid(), player_id: "p1", sku: "reed-boat" },
  "payment.get_ledger": { player_id: "p1" },
  "player.get_nearby": { player_id: "p1" }, "player.get_profile": { player_id: "p1" },
  "quest.abandon": { player_id: "p2", quest_id: "lantern-of-saint-irri" },
  "quest.get_journal": { player_id: "p1" },
  "world.query": { kind: "player", id: "p1" },
  "ai.generate": { kind: "dialogue", prompt: "Greet the traveller.", context: { npc: "Hesper Quill" } },
};
await request(spec("quest.accept"), { player_id: "p2", quest_id: "lantern-of-saint-irri" });
let purchaseId;
// Refunds after purchases: the refund names the purchase the receipt gave.
requests.sort((a, b) => (a.type === "payment.refund") - (b.type === "payment.refund"));
for (const r of requests) {
  if (r.internal) {
    report.skipped.push(`${r.address} (internal to the AI layer)`);
    continue;
  }
  let payload = payloads[r.type] ?? exampleOf(r.type);
  if (r.type === "payment.refund") payload = { purchase_id: purchaseId ?? "unknown-purchase" };
  // The knowledge base may be busy ingesting the sample worlds, the AI layer starting: more time for those.
  const slow = r.address.startsWith("lw.ai.") || r.type.startsWith("kb.");
  const answer = await request(r, payload, { timeout: slow ? 30000 : 15000 });
  if (r.type === "payment.purchase" && answer?.type === "payment.receipt") purchaseId = answer.payload.purchase_id;
  if (r.type === "world.query" && answer?.payload?.value !== "cindermouth") {
    fail(`world.query of p1 answered ${JSON.stringify(answer?.payload)}`);
  }
}

// ---- invalid frames reach the dead-letter subject the document names ------------------------------
const moved = fill(eventAddress["player.moved"], { world: WORLD });
const spoke = fill(eventAddress["player.spoke"], { world: WORLD });
const good = () => frame("player.moved", { player_id: "p1", region: "vel-arath" });
const invalid = [
  ["malformed", moved, new Uint8Array([0xc1, 0x6e, 0x6f, 0x74])],
  ["invalid_payload", moved, encode(frame("player.moved", { player_id: "p1" }))],
  ["subject_mismatch", moved, encode(frame("player.joined", { player_id: "p1" }))],
  ["bad_version", moved, encode({ ...good(), version: "9.0" })],
  ["malformed", spoke, encode({ ...frame("player.spoke", { player_id: "p1", npc_id: "n", text: "t" }), ts: Date.now() })],
  ["too_large", spoke, encode(frame("player.spoke", { player_id: "p1", npc_id: "n", text: "x".repeat(doc.info["x-loreweave-max-frame-bytes"]) }))],
];
for (const [, subject, data] of invalid) {
  sentInvalid.add(Buffer.from(data).toString("base64"));
  game.publish(subject, data);
}
await game.flush();
// A request that cannot be read is answered sys.error (its reason as the code) and dead-lettered too.
const query = spec("world.query");
const rpc = fill(query.address, { world: WORLD });
const refused = await game.request(rpc, new Uint8Array([0xc1]), { timeout: 15000 }).catch((e) => e);
if (refused instanceof Error) fail(`unreadable request: ${refused.message}`);
else {
  const answer = decode(refused.data);
  validateFrame(answer, "reply to an unreadable request");
  if (answer.type !== "sys.error" || answer.payload.code !== "malformed" || refused.headers?.get("Lw-Error") !== "malformed") {
    fail(`unreadable request answered ${JSON.stringify(answer)}`);
  }
}
invalid.push(["malformed", rpc]);
for (const [reason, subject] of invalid) {
  const expected = fill(deadLetterAddress, { reason });
  const letter = await until(`a ${reason} dead letter of ${subject} on ${expected}`, () =>
    letters.find((l) => l.subject === expected && l.headers?.get("Lw-Dlq-Subject") === subject
      && l.headers?.get("Lw-Dlq-Reason") === reason && !l.claimed), 30000);
  if (letter) {
    letter.claimed = true;
    const required = doc.components.messages.dead_letter.headers.required;
    for (const header of required) if (!letter.headers.get(header)) fail(`dead letter without ${header}`);
    report.deadLetters[`${reason} ${subject}`] = letter.headers.get("Lw-Dlq-Error");
  }
}

await until("an actor heartbeat", () => heartbeats.length > 0, 30000);
report.heartbeats = heartbeats.length;
// Only the invalid frames were dead-lettered (not the ghost's, not the unknown NPC's).
const unexpected = letters.filter((l) => !l.claimed);
if (unexpected.length) {
  fail(`unexpected dead letters: ${unexpected.map((l) => `${l.subject} ${l.headers?.get("Lw-Dlq-Error")}`)}`);
}
await Promise.all([game.drain(), ops.drain(), node.drain()]);
report.failures = failures;
report.ok = failures.length === 0;
console.log(JSON.stringify(report, null, 2));
process.exit(report.ok ? 0 : 1);
