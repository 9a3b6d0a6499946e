// The dashboard as an MCP App (io.modelcontextprotocol/ui, protocol 2026-01-26): inlined before
// dashboard.js in the ui://perf-mcp/dashboard resource. The page cannot reach the network; its
// API calls become tools/call requests of the app-only dashboard_api tool, sent as JSON-RPC
// over postMessage to the host, which relays them to the perf-mcp server.
"use strict";

(() => {
  const pending = new Map();
  let nextId = 1;
  const send = (message) => window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
  const request = (method, params) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    send({ id, method, params });
  });

  window.addEventListener("message", (event) => {
    const message = event.data;
    if (event.source !== window.parent || message?.jsonrpc !== "2.0") return;
    if (message.method === undefined && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(message.error.message));
      else resolve(message.result);
    } else if (message.method !== undefined && message.id !== undefined) {
      send({ id: message.id, result: {} });  // ping, teardown: nothing to keep or undo
    }
  });

  const ready = request("ui/initialize", {
    protocolVersion: "2026-01-26",
    appInfo: { name: "perf-mcp dashboard", version: "1" },
    appCapabilities: { availableDisplayModes: ["inline", "fullscreen"] },
  }).then(() => send({ method: "ui/notifications/initialized", params: {} }));

  // dashboard.js asks here instead of fetch(): the same routes, the same JSON answers.
  window.perfMcpApi = async (path, options = {}) => {
    await ready;
    const args = { path, method: options.method || "GET" };
    if (options.body) args.body = JSON.parse(options.body);
    const result = await request("tools/call", { name: "dashboard_api", arguments: args });
    if (result.isError) throw new Error((result.content || []).map((c) => c.text).join(" "));
    return result.structuredContent.answer;
  };

  // The host sizes the frame to the page.
  let sent = 0;
  new ResizeObserver(() => {
    const height = document.documentElement.scrollHeight;
    if (height === sent) return;
    sent = height;
    ready.then(() => send({ method: "ui/notifications/size-changed", params: { height } }));
  }).observe(document.documentElement);
})();
