// The part of a tfport bundle's parity.html that `tfport parity --runtime chromium` drives: it
// fetches work from the page's `driver` URL and posts answers back, in tfport's binary frames
// (uint32 LE header length, JSON header, tensor bytes).
export const driver = new URLSearchParams(location.search).get("driver");

const send = (path, body) => fetch(path, { method: "POST", body });

/** Errors go to tfport when it drives the page, else to the console. */
export const report = (message) => (driver ? send(`${driver}/log`, message) : console.error(message));
window.addEventListener("unhandledrejection", (event) => report(String(event.reason)));

export function frame(header, chunks = []) {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const length = new Uint8Array(new Uint32Array([json.length]).buffer);
  return new Blob([length, json, ...chunks]);
}

function readFrame(buffer) {
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  return [header, new Uint8Array(buffer, 4 + length)];
}

/** Answer tfport's requests with `handle(header, payload) -> frame` until it says there is no more. */
export async function drive(handle) {
  for (;;) {
    const response = await fetch(`${driver}/next`);
    if (response.status !== 200) break;
    const [header, payload] = readFrame(await response.arrayBuffer());
    let answer;
    try {
      answer = await handle(header, payload);
    } catch (error) {
      answer = frame({ ok: false, error: String(error && error.message || error) });
    }
    await send(`${driver}/result`, answer);
  }
}
