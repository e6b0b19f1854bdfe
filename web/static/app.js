// Browser client for the chat server (wire contract: PROTOCOL.md, v1).
//
// Rules this file keeps:
// - Everything that comes from the server or the user is put on the page with
//   textContent / createElement only, never as HTML, so a message such as
//   `<img src=x onerror=...>` shows as the literal text it is.
// - Same origin as the API: relative URLs for HTTP, location.host for the WebSocket.
// - One conversation object per open tab ("room:<room_id>" or "user:<user_id>"); each
//   keeps its own <ol> so that switching tabs does not re-render anything.
"use strict";

(function () {
  const API = "/api/v1";
  const HISTORY_PAGE = 50;
  // The room list comes in pages (oldest rooms first). A refresh re-reads only as many
  // rooms as the list shows; "More rooms" reads the next page.
  const ROOMS_PAGE = 100;
  const ROOMS_REFRESH_MS = 30000;
  const PING_MS = 25000;
  const RECONNECT_BASE_MS = 500;
  const RECONNECT_CAP_MS = 30000;
  const ERROR_VISIBLE_MS = 12000;
  const TOKEN_KEY = "chat.token";
  const ROOMS_KEY = "chat.rooms";

  // A sentence a person can act on, per error code of the contract.
  const ERROR_TEXT = {
    bad_request: "The server could not understand that request.",
    unknown_type: "The server does not know that command.",
    room_not_found: "That room does not exist (any more).",
    not_in_room: "You are not in that room: join it first.",
    user_not_found: "That user does not exist.",
    content_too_long: "That message is too long: shorten it and send it again.",
    rate_limited: "You are going too fast: wait a moment and try again.",
    forbidden: "You are not allowed to do that.",
    internal: "The server had an internal problem: please try again.",
    username_taken: "That username is already taken: pick another one.",
    invalid_credentials: "Wrong username or password.",
    unauthorized: "Your session has expired: please log in again.",
  };

  // Close codes the server uses on purpose, and what we tell the user about them.
  const CLOSE_TEXT = {
    1001: "The server is restarting",
    1008: "The server closed the connection (policy)",
    1009: "A message was too big for the server",
    1011: "The server hit an internal error",
    1013: "The connection was too slow to keep up",
  };

  const state = {
    token: null,
    me: null, // {user_id, username}
    ws: null,
    wsOpen: false,
    loggingOut: false,
    reconnectAttempt: 0,
    reconnectTimer: null,
    dropReason: null, // why the link first dropped, kept while retries fail
    pingTimer: null,
    roomsTimer: null,
    nextRef: 1,
    pending: new Map(), // ref -> {what, convKey, content}
    wantedRooms: new Set(), // rooms to be in; rejoined after every reconnect
    conversations: new Map(), // key -> conversation
    activeKey: null,
    rooms: new Map(), // room_id -> room (with "online"); rooms are never deleted, so only added to
    roomsShown: ROOMS_PAGE, // how many rooms of the list the user has asked to see
    roomsCursor: null, // next_cursor after the last page read: more rooms exist
    roomOnline: new Map(), // room_id -> [user]
    siteOnline: [],
    names: new Map(), // user_id -> username, learnt from every user object we see
    refreshTimer: null,
    errorTimer: null,
    focusOnJoin: null, // room_id to show as soon as its "joined" arrives
  };

  // The placeholder shown when no conversation is open; kept because replaceChildren
  // detaches it from the document.
  let emptyHint = null;

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- DOM helpers

  // Builds an element with text content only; no way to inject markup through here.
  function el(tag, props, text) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (key === "className") node.className = value;
        else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" || key === "title" || key === "type") {
          node.setAttribute(key, String(value));
        } else node[key] = value;
      }
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatTime(ms) {
    if (typeof ms !== "number") return "";
    const date = new Date(ms);
    const sameDay = date.toDateString() === new Date().toDateString();
    const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return sameDay ? time : date.toLocaleDateString() + " " + time;
  }

  function rememberUser(user) {
    if (user && typeof user.user_id === "string") state.names.set(user.user_id, user.username);
  }

  function nameOf(userId) {
    return state.names.get(userId) || userId;
  }

  // ---------------------------------------------------------------- errors

  function describeError(code, message, retryAfter) {
    let text = ERROR_TEXT[code] || "Something went wrong (" + code + ").";
    if (code === "rate_limited" && retryAfter) {
      // The wait is the one detail that matters here; the server's wording adds nothing.
      return "You are going too fast: try again in " + retryAfter + " s.";
    }
    // The server's own message can carry the detail (which field, which limit).
    if (message && message !== text) text += " (" + message + ")";
    return text;
  }

  // Shows one error in the banner; the newest one wins because it is the one the
  // user just caused.
  function showError(text, code) {
    const banner = $("error-banner");
    $("error-text").textContent = text;
    banner.dataset.code = code || "";
    banner.hidden = false;
    clearTimeout(state.errorTimer);
    state.errorTimer = setTimeout(hideError, ERROR_VISIBLE_MS);
  }

  function hideError() {
    $("error-banner").hidden = true;
  }

  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message || code);
      this.status = status;
      this.code = code;
      this.serverMessage = message;
      this.retryAfter = retryAfter;
    }
    describe() {
      return describeError(this.code, this.serverMessage, this.retryAfter);
    }
  }

  // ---------------------------------------------------------------- HTTP

  // Calls the API and returns the parsed body, or throws ApiError with the contract's
  // error code; a network failure becomes the pseudo-code "network".
  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.token) headers.Authorization = "Bearer " + state.token;
    let response;
    try {
      response = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, "network", "the server cannot be reached");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (response.ok) return data || {};
    const error = (data && data.error) || {};
    const code = error.code || (response.status === 401 ? "unauthorized" : "internal");
    throw new ApiError(response.status, code, error.message, response.headers.get("Retry-After"));
  }

  // Handles an API failure in the chat view: an expired token sends the user back to
  // the login form, anything else is shown in the banner with what we were doing.
  function reportApiError(err, what) {
    if (!(err instanceof ApiError)) {
      showError(what + " failed: " + err, "internal");
      return;
    }
    if (err.status === 401 && state.token) {
      endSession(ERROR_TEXT.unauthorized);
      return;
    }
    const text = err.code === "network" ? "The server cannot be reached." : err.describe();
    showError(what + " failed. " + text, err.code);
  }

  // ---------------------------------------------------------------- login / logout

  function setAuthMessage(text, isError) {
    const node = $("auth-message");
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
  }

  function readCredentials() {
    return {
      username: $("auth-username").value.trim().normalize("NFC"),
      password: $("auth-password").value,
    };
  }

  function setAuthBusy(busy) {
    $("login-button").disabled = busy;
    $("register-button").disabled = busy;
  }

  async function logIn(credentials) {
    const data = await api("POST", "/login", credentials);
    state.token = data.token;
    sessionStorage.setItem(TOKEN_KEY, data.token);
    startSession(data.user);
  }

  async function onLoginSubmit(event) {
    event.preventDefault();
    const credentials = readCredentials();
    if (!credentials.username || !credentials.password) {
      setAuthMessage("Enter a username and a password.", true);
      return;
    }
    setAuthBusy(true);
    setAuthMessage("Logging in…", false);
    try {
      await logIn(credentials);
    } catch (err) {
      setAuthMessage(err instanceof ApiError ? err.describe() : String(err), true);
    } finally {
      setAuthBusy(false);
    }
  }

  // Registers, then logs straight in: nobody wants to type the password twice.
  async function onRegisterClick() {
    const credentials = readCredentials();
    if (!credentials.username) {
      setAuthMessage("Pick a username: up to 32 plain letters or digits (any script) and _ . -", true);
      return;
    }
    if (credentials.password.length < 8) {
      setAuthMessage("The password needs at least 8 characters.", true);
      return;
    }
    setAuthBusy(true);
    setAuthMessage("Registering…", false);
    try {
      await api("POST", "/register", credentials);
      setAuthMessage("Registered. Logging in…", false);
      await logIn(credentials);
    } catch (err) {
      setAuthMessage(err instanceof ApiError ? err.describe() : String(err), true);
    } finally {
      setAuthBusy(false);
    }
  }

  function showView(loggedIn) {
    $("auth-view").hidden = loggedIn;
    $("chat-view").hidden = !loggedIn;
    $("logout-button").hidden = !loggedIn;
    $("toggle-rooms").hidden = !loggedIn;
    $("toggle-people").hidden = !loggedIn;
    document.body.classList.toggle("logged-in", loggedIn);
  }

  function startSession(user) {
    state.me = user;
    state.loggingOut = false;
    rememberUser(user);
    $("current-user").textContent = user.username;
    $("current-user").title = "Logged in as " + user.username;
    setAuthMessage("", false);
    $("auth-password").value = "";
    showView(true);
    restoreWantedRooms();
    refreshRooms();
    refreshSiteOnline();
    state.roomsTimer = setInterval(refreshRooms, ROOMS_REFRESH_MS);
    connect();
  }

  // The "Log out" button: forget the session here, and have the server refuse its
  // token from now on (a copy of it elsewhere stops working too).
  function logOut() {
    const token = state.token;
    endSession("");
    if (token) {
      fetch(API + "/logout", { method: "POST", headers: { Authorization: "Bearer " + token } }).catch(
        () => {},
      );
    }
  }

  // Tears down everything that belongs to the logged-in user; `reason` is shown on
  // the login form (an expired token, a plain logout shows nothing).
  function endSession(reason) {
    state.loggingOut = true;
    clearInterval(state.roomsTimer);
    clearInterval(state.pingTimer);
    clearTimeout(state.reconnectTimer);
    if (state.ws) state.ws.close(1000, "logout");
    state.ws = null;
    state.wsOpen = false;
    state.token = null;
    state.me = null;
    state.pending.clear();
    state.wantedRooms.clear();
    state.conversations.clear();
    state.activeKey = null;
    state.roomOnline.clear();
    state.rooms.clear();
    state.roomsShown = ROOMS_PAGE;
    state.roomsCursor = null;
    state.siteOnline = [];
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROOMS_KEY);
    $("current-user").textContent = "";
    $("conversation-tabs").replaceChildren();
    $("room-list").replaceChildren();
    $("room-online-list").replaceChildren();
    $("site-online-list").replaceChildren();
    renderActiveConversation();
    setStatus("offline", "");
    showView(false);
    hideError();
    setAuthMessage(reason || "", Boolean(reason));
  }

  function saveWantedRooms() {
    sessionStorage.setItem(ROOMS_KEY, JSON.stringify([...state.wantedRooms]));
  }

  // After a page reload the same tab rejoins the rooms it was in.
  function restoreWantedRooms() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(ROOMS_KEY) || "[]");
      for (const roomId of saved) {
        if (typeof roomId === "string") state.wantedRooms.add(roomId);
      }
    } catch (err) {
      sessionStorage.removeItem(ROOMS_KEY);
    }
  }

  // ---------------------------------------------------------------- WebSocket

  function setStatus(kind, text) {
    const node = $("connection-status");
    node.dataset.state = kind;
    node.textContent = text;
  }

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return scheme + "://" + location.host + "/ws?token=" + encodeURIComponent(state.token);
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    if (!state.token) return;
    setStatus("connecting", "Connecting…");
    const ws = new WebSocket(socketUrl());
    state.ws = ws;
    ws.addEventListener("open", () => onSocketOpen(ws));
    ws.addEventListener("message", (event) => onSocketMessage(ws, event));
    ws.addEventListener("close", (event) => onSocketClose(ws, event));
  }

  function onSocketOpen(ws) {
    if (ws !== state.ws) return;
    state.wsOpen = true;
    state.reconnectAttempt = 0;
    state.dropReason = null;
    setStatus("online", "Connected");
    for (const roomId of state.wantedRooms) sendJoin(roomId);
    send({ type: "online" });
    updateComposer();
    clearInterval(state.pingTimer);
    // Our own traffic keeps the idle timeout away and notices a dead link sooner.
    state.pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
  }

  async function onSocketClose(ws, event) {
    if (ws !== state.ws) return;
    state.ws = null;
    state.wsOpen = false;
    clearInterval(state.pingTimer);
    updateComposer();
    failPendingCommands();
    if (state.loggingOut) return;
    if (event.code === 4401) {
      endSession("Your session has expired: please log in again.");
      return;
    }
    // A refused handshake (bad token) looks like 1006 to a browser: ask /me to tell a
    // dead token from a dead server before retrying forever.
    if (event.code === 1006 && !(await tokenStillValid())) {
      endSession("Your session has expired: please log in again.");
      return;
    }
    // Failed retries close with 1006; the first close says why we dropped (1001: the
    // server restarts, 1013: we were too slow), and that stays the useful message.
    if (state.reconnectAttempt === 0 || !state.dropReason) {
      state.dropReason = CLOSE_TEXT[event.code] || "Connection lost";
    }
    scheduleReconnect(state.dropReason);
  }

  async function tokenStillValid() {
    try {
      await api("GET", "/me");
      return true;
    } catch (err) {
      return !(err instanceof ApiError && err.status === 401);
    }
  }

  // Exponential backoff with "equal jitter": half the delay is fixed, half random, so
  // many clients dropped by one restart do not all come back in the same instant.
  function reconnectDelay(attempt) {
    const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  function scheduleReconnect(reason) {
    if (!state.token) return;
    const delay = reconnectDelay(state.reconnectAttempt);
    state.reconnectAttempt += 1;
    const seconds = Math.max(1, Math.round(delay / 1000));
    setStatus("reconnecting", reason + ": reconnecting in " + seconds + " s…");
    state.reconnectTimer = setTimeout(connect, delay);
  }

  // Commands in flight when the link dropped will never get a reply; tell the user
  // about unsent messages instead of silently losing them.
  function failPendingCommands() {
    for (const command of state.pending.values()) {
      if (command.content !== undefined) {
        showError("A message may not have been sent: the connection dropped.", "network");
        restoreDraft(command);
      }
    }
    state.pending.clear();
  }

  // Sends a command; returns its ref, or null when there is no connection.
  function send(command, what, extra) {
    if (!state.ws || !state.wsOpen) return null;
    const ref = "c" + state.nextRef++;
    command.ref = ref;
    state.pending.set(ref, Object.assign({ what: what || command.type }, extra || {}));
    state.ws.send(JSON.stringify(command));
    return ref;
  }

  function onSocketMessage(ws, event) {
    if (ws !== state.ws) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (err) {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    const command = frame.ref !== undefined ? state.pending.get(String(frame.ref)) : undefined;
    if (frame.ref !== undefined) state.pending.delete(String(frame.ref));
    const handler = FRAME_HANDLERS[frame.type];
    if (handler) handler(frame, command);
  }

  const FRAME_HANDLERS = {
    joined: onJoined,
    left: onLeft,
    ack: onAck,
    online: onOnline,
    pong: () => {},
    group: onGroupMessage,
    private: onPrivateMessage,
    system: onSystem,
    error: onSocketError,
  };

  // ---------------------------------------------------------------- frames

  function onJoined(frame) {
    const room = frame.room || {};
    const roomId = room.room_id;
    if (typeof roomId !== "string") return;
    state.wantedRooms.add(roomId);
    saveWantedRooms();
    const existing = state.rooms.get(roomId);
    state.rooms.set(roomId, Object.assign({}, existing, room));
    const conv = openConversation("room:" + roomId, "room", roomId, room.name || roomId);
    setRoomOnline(roomId, frame.users || []);
    // Fetch the newest page on every (re)join: it fills whatever we missed while
    // disconnected, and the id-based dedupe drops what we already show.
    loadHistory(conv, null);
    // Show the room if the user asked for it (clicked Join), or if nothing is shown yet.
    if (!state.activeKey || state.focusOnJoin === roomId) {
      state.focusOnJoin = null;
      activate(conv.key);
    }
    scheduleRefresh();
  }

  function onLeft(frame) {
    const roomId = frame.room_id;
    state.wantedRooms.delete(roomId);
    saveWantedRooms();
    state.roomOnline.delete(roomId);
    closeConversation("room:" + roomId);
    scheduleRefresh();
  }

  function onAck(frame, command) {
    if (command && command.private && frame.delivered === false) {
      const conv = state.conversations.get(command.convKey);
      if (conv) addNote(conv, nameOf(conv.id) + " is offline: the message is stored for later.");
    }
  }

  function onOnline(frame) {
    const users = Array.isArray(frame.users) ? frame.users : [];
    if (typeof frame.room_id === "string") setRoomOnline(frame.room_id, users);
    else setSiteOnline(users);
  }

  function onGroupMessage(message) {
    const conv = state.conversations.get("room:" + message.room_id);
    if (conv) addMessage(conv, message, true);
  }

  // A private push may be ours (sent from this or another tab) or someone's to us:
  // the conversation partner is whichever of sender and target is not me.
  function onPrivateMessage(message) {
    if (!message.sender || !state.me) return;
    rememberUser(message.sender);
    const mine = message.sender.user_id === state.me.user_id;
    const partnerId = mine ? message.target_id : message.sender.user_id;
    const key = "user:" + partnerId;
    let conv = state.conversations.get(key);
    if (!conv) {
      conv = openConversation(key, "private", partnerId, nameOf(partnerId));
      loadHistory(conv, null);
    }
    addMessage(conv, message, true);
  }

  function onSystem(frame) {
    rememberUser(frame.user);
    const conv = state.conversations.get("room:" + frame.room_id);
    if (conv) {
      const who = frame.user ? frame.user.username : "Someone";
      const fallback = who + (frame.event === "join" ? " joined" : " left");
      addSystemLine(conv, frame.content || fallback, frame.timestamp, frame.event, who);
    }
    // Membership changed: the online lists and the counts in the room list are stale.
    if (state.conversations.has("room:" + frame.room_id)) {
      send({ type: "online", room_id: frame.room_id });
    }
    send({ type: "online" });
    scheduleRefresh();
  }

  function onSocketError(frame, command) {
    const text = describeError(frame.code, frame.message);
    const what = command ? command.what : null;
    showError(what ? what + " failed. " + text : text, frame.code);
    if (!command) return;
    if (command.content !== undefined) restoreDraft(command);
    // A join that cannot succeed must not be retried after every reconnect.
    if (command.joinRoom && frame.code === "room_not_found") {
      state.wantedRooms.delete(command.joinRoom);
      saveWantedRooms();
      refreshRooms();
    }
  }

  // Puts an unsent message back in the input, unless the user already typed more.
  function restoreDraft(command) {
    const input = $("message-input");
    if (command.convKey === state.activeKey && !input.value) {
      input.value = command.content;
      autoGrow();
    }
  }

  // ---------------------------------------------------------------- commands

  function sendJoin(roomId, focus) {
    const room = state.rooms.get(roomId);
    const label = room && room.name ? room.name : roomId;
    const conv = state.conversations.get("room:" + roomId);
    if (conv && focus) activate(conv.key);
    const ref = send({ type: "join", room_id: roomId }, "Joining " + label, { joinRoom: roomId });
    if (ref === null) {
      // Not connected: remember the wish, the next connection joins it.
      state.wantedRooms.add(roomId);
      saveWantedRooms();
      showError("Not connected: the room will be joined when the connection is back.", "network");
      return;
    }
    if (focus && !conv) state.focusOnJoin = roomId;
  }

  function sendLeave(roomId) {
    const room = state.rooms.get(roomId);
    const label = room && room.name ? room.name : roomId;
    const ref = send({ type: "leave", room_id: roomId }, "Leaving " + label);
    if (ref === null) {
      // Offline: we are out of the room already (disconnecting leaves every room).
      onLeft({ room_id: roomId });
    }
  }

  function onComposerSubmit(event) {
    event.preventDefault();
    const input = $("message-input");
    const content = input.value;
    const conv = state.conversations.get(state.activeKey);
    if (!conv || !content.trim()) return;
    const extra = { convKey: conv.key, content, private: conv.kind === "private" };
    const command = conv.kind === "room"
      ? { type: "group", room_id: conv.id, content }
      : { type: "private", target_id: conv.id, content };
    const ref = send(command, "Sending your message", extra);
    if (ref === null) {
      showError("Not connected: your message was not sent. It will be kept here.", "network");
      return;
    }
    input.value = "";
    autoGrow();
    input.focus();
  }

  // Enter sends, Shift+Enter breaks the line: what chat users expect.
  function onComposerKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  }

  function autoGrow() {
    const input = $("message-input");
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  }

  function updateComposer() {
    const conv = state.conversations.get(state.activeKey);
    const usable = Boolean(conv);
    $("message-input").disabled = !usable;
    $("send-button").disabled = !usable;
    let hint = "Join a room to chat";
    if (conv) hint = conv.kind === "room" ? "Message " + conv.title : "Message " + conv.title + " privately";
    if (conv && !state.wsOpen) hint = "Offline: waiting for the connection…";
    $("message-input").placeholder = hint;
  }

  // ---------------------------------------------------------------- conversations

  function openConversation(key, kind, id, title) {
    let conv = state.conversations.get(key);
    if (conv) {
      if (title && kind === "room") conv.title = title;
      renderTabs();
      return conv;
    }
    conv = {
      key,
      kind,
      id,
      title,
      list: el("ol", { className: "messages", "data-testid": "messages", "data-conv": key }),
      olderButton: el("button", { type: "button", className: "load-older", "data-testid": "load-older" }, "Load older messages"),
      seen: new Set(),
      oldestId: null,
      newestId: null,
      hasMore: false,
      loading: false,
      unread: 0,
      scrollTop: null,
      historyLoaded: false,
    };
    conv.olderButton.hidden = true;
    conv.olderButton.addEventListener("click", () => loadHistory(conv, conv.oldestId));
    state.conversations.set(key, conv);
    renderTabs();
    return conv;
  }

  function closeConversation(key) {
    if (!state.conversations.has(key)) return;
    state.conversations.delete(key);
    if (state.activeKey === key) {
      const next = state.conversations.keys().next();
      state.activeKey = next.done ? null : next.value;
    }
    renderTabs();
    renderActiveConversation();
  }

  function activate(key) {
    const current = state.conversations.get(state.activeKey);
    const list = $("message-list");
    if (current) current.scrollTop = list.scrollTop;
    state.activeKey = key;
    const conv = state.conversations.get(key);
    if (conv) conv.unread = 0;
    renderTabs();
    renderActiveConversation();
    closePanels();
  }

  function isActive(conv) {
    return conv.key === state.activeKey;
  }

  // Fetches one page of history; `before` null means the newest page. Older pages
  // keep the user's scroll position so the list does not jump.
  async function loadHistory(conv, before) {
    if (before !== null && (conv.loading || !conv.hasMore)) return;
    conv.loading = true;
    const base = conv.kind === "room"
      ? "/rooms/" + encodeURIComponent(conv.id) + "/messages"
      : "/private/" + encodeURIComponent(conv.id) + "/messages";
    const query = "?limit=" + HISTORY_PAGE + (before !== null ? "&before=" + before : "");
    try {
      const data = await api("GET", base + query);
      const messages = Array.isArray(data.messages) ? data.messages : [];
      // Only the first newest page and the older pages say whether more exist; the
      // newest page fetched again after a reconnect says nothing about older ones.
      if (before !== null || !conv.historyLoaded) conv.hasMore = messages.length >= HISTORY_PAGE;
      conv.historyLoaded = true;
      const list = $("message-list");
      const heightBefore = list.scrollHeight;
      const stick = before === null && isNearBottom();
      for (const message of messages) addMessage(conv, message, false);
      conv.olderButton.hidden = !conv.hasMore;
      if (isActive(conv)) {
        if (before !== null) list.scrollTop += list.scrollHeight - heightBefore;
        else if (stick || conv.scrollTop === null) scrollToBottom();
      }
    } catch (err) {
      if (err instanceof ApiError && err.code === "user_not_found") {
        closeConversation(conv.key);
      }
      reportApiError(err, "Loading the history of " + conv.title);
    } finally {
      conv.loading = false;
    }
  }

  function isNearBottom() {
    const list = $("message-list");
    return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  }

  function scrollToBottom() {
    const list = $("message-list");
    list.scrollTop = list.scrollHeight;
  }

  // Inserts a message in id order, once: history pages and live pushes overlap, and
  // the id is the only thing that tells the same message apart from a copy.
  function addMessage(conv, message, live) {
    if (typeof message.id !== "number" || conv.seen.has(message.id)) return;
    conv.seen.add(message.id);
    if (message.sender) rememberUser(message.sender);
    const item = renderMessage(message);
    const stick = isActive(conv) && isNearBottom();
    if (live && (conv.newestId === null || message.id > conv.newestId)) {
      conv.list.appendChild(item);
    } else {
      conv.list.insertBefore(item, firstItemAfter(conv, message));
    }
    if (conv.newestId === null || message.id > conv.newestId) conv.newestId = message.id;
    if (conv.oldestId === null || message.id < conv.oldestId) conv.oldestId = message.id;
    if (!live) return;
    if (isActive(conv) && !document.hidden) {
      if (stick || message.sender.user_id === state.me.user_id) scrollToBottom();
    } else {
      conv.unread += 1;
      renderTabs();
    }
  }

  // Where a message from history goes: before the first newer message, or before the
  // first join/leave line that happened after it (system lines have no id, only a time).
  function firstItemAfter(conv, message) {
    for (const node of conv.list.children) {
      if (node.dataset.messageId !== undefined) {
        if (Number(node.dataset.messageId) > message.id) return node;
      } else if (node.dataset.ts !== undefined && Number(node.dataset.ts) > message.timestamp) {
        return node;
      }
    }
    return null;
  }

  function renderMessage(message) {
    const sender = message.sender || { username: "?", user_id: "" };
    const mine = state.me && sender.user_id === state.me.user_id;
    const item = el("li", {
      className: "message" + (mine ? " mine" : ""),
      "data-testid": "message",
      "data-message-id": message.id,
    });
    const meta = el("div", { className: "meta" });
    meta.appendChild(el("span", { className: "sender", "data-testid": "message-sender" }, sender.username));
    meta.appendChild(el("time", { className: "time", title: new Date(message.timestamp).toString() }, formatTime(message.timestamp)));
    item.appendChild(meta);
    item.appendChild(el("div", { className: "content", "data-testid": "message-content" }, message.content));
    return item;
  }

  function addSystemLine(conv, text, timestamp, event, username) {
    const item = el("li", {
      className: "system",
      "data-testid": "system-line",
      "data-event": event || "",
      "data-username": username || "",
    });
    if (typeof timestamp === "number") item.dataset.ts = String(timestamp);
    item.appendChild(el("span", { className: "content" }, text));
    if (timestamp) item.appendChild(el("time", { className: "time" }, formatTime(timestamp)));
    appendLine(conv, item);
  }

  function addNote(conv, text) {
    appendLine(conv, el("li", { className: "system note", "data-testid": "note" }, text));
  }

  function appendLine(conv, item) {
    const stick = isActive(conv) && isNearBottom();
    conv.list.appendChild(item);
    if (stick) scrollToBottom();
  }

  function onMessageListScroll() {
    const conv = state.conversations.get(state.activeKey);
    if (conv && $("message-list").scrollTop < 40 && conv.hasMore && !conv.loading) {
      loadHistory(conv, conv.oldestId);
    }
  }

  // ---------------------------------------------------------------- rendering

  function renderTabs() {
    const tabs = $("conversation-tabs");
    const nodes = [];
    for (const conv of state.conversations.values()) {
      const tab = el("button", {
        type: "button",
        role: "tab",
        className: "tab" + (isActive(conv) ? " active" : "") + (conv.kind === "private" ? " private" : ""),
        "data-testid": "conversation-tab",
        "data-key": conv.key,
        "aria-selected": isActive(conv) ? "true" : "false",
      });
      tab.appendChild(el("span", { className: "tab-title" }, (conv.kind === "room" ? "# " : "@ ") + conv.title));
      if (conv.unread > 0) tab.appendChild(el("span", { className: "badge", "data-testid": "unread" }, conv.unread));
      tab.addEventListener("click", () => activate(conv.key));
      nodes.push(tab);
    }
    tabs.replaceChildren(...nodes);
    tabs.hidden = nodes.length === 0;
  }

  function renderActiveConversation() {
    const list = $("message-list");
    const conv = state.conversations.get(state.activeKey);
    const leave = $("leave-button");
    if (!conv) {
      $("conversation-title").textContent = "No conversation open";
      list.replaceChildren(emptyHint);
      leave.hidden = true;
      renderRoomOnline();
      updateComposer();
      return;
    }
    $("conversation-title").textContent = conv.kind === "room" ? "# " + conv.title : "Private: " + conv.title;
    leave.hidden = false;
    leave.textContent = conv.kind === "room" ? "Leave room" : "Close";
    list.replaceChildren(conv.olderButton, conv.list);
    if (conv.scrollTop === null) scrollToBottom();
    else list.scrollTop = conv.scrollTop;
    renderRoomOnline();
    updateComposer();
  }

  // The "in this room" list follows the active tab; for a private talk it shows
  // nobody (the partner is in the site-wide list).
  function renderRoomOnline() {
    const conv = state.conversations.get(state.activeKey);
    const title = $("room-online-title");
    const isRoom = Boolean(conv) && conv.kind === "room";
    $("room-online-section").hidden = !isRoom;
    if (!isRoom) {
      title.textContent = "In this room";
      $("room-online-list").replaceChildren();
      return;
    }
    const users = state.roomOnline.get(conv.id) || [];
    title.textContent = "In " + conv.title + " (" + users.length + ")";
    renderUserList($("room-online-list"), users);
  }

  function setRoomOnline(roomId, users) {
    users.forEach(rememberUser);
    state.roomOnline.set(roomId, users);
    const room = state.rooms.get(roomId);
    if (room) {
      room.online = users.length;
      renderRooms();
    }
    renderRoomOnline();
  }

  function setSiteOnline(users) {
    users.forEach(rememberUser);
    state.siteOnline = users;
    renderUserList($("site-online-list"), users);
  }

  function renderUserList(listNode, users) {
    const sorted = [...users].sort((a, b) => String(a.username).localeCompare(String(b.username)));
    const items = sorted.map((user) => {
      const me = state.me && user.user_id === state.me.user_id;
      const item = el("li");
      const button = el("button", {
        type: "button",
        className: "user" + (me ? " me" : ""),
        "data-testid": "online-user",
        "data-user-id": user.user_id,
        "data-username": user.username,
        title: me ? "That is you" : "Talk privately with " + user.username,
      }, me ? user.username + " (you)" : user.username);
      button.disabled = Boolean(me);
      button.addEventListener("click", () => startPrivate(user));
      item.appendChild(button);
      return item;
    });
    listNode.replaceChildren(...items);
  }

  function startPrivate(user) {
    if (!state.me || user.user_id === state.me.user_id) return;
    rememberUser(user);
    const key = "user:" + user.user_id;
    const existed = state.conversations.has(key);
    const conv = openConversation(key, "private", user.user_id, user.username);
    activate(key);
    if (!existed) loadHistory(conv, null);
    $("message-input").focus();
  }

  function renderRooms() {
    const rooms = [...state.rooms.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const items = rooms.map((room) => {
      const joined = state.conversations.has("room:" + room.room_id);
      const item = el("li", {
        className: "room" + (joined ? " joined" : ""),
        "data-testid": "room-item",
        "data-room-id": room.room_id,
      });
      const open = el("button", { type: "button", className: "room-open", "data-testid": "room-open", title: joined ? "Show this room" : "Join this room" });
      open.appendChild(el("span", { className: "room-name" }, room.name || room.room_id));
      open.appendChild(el("span", { className: "room-online", "data-testid": "room-online-count", title: "online" }, typeof room.online === "number" ? room.online : ""));
      open.addEventListener("click", () => (joined ? activate("room:" + room.room_id) : sendJoin(room.room_id, true)));
      item.appendChild(open);
      const action = el("button", {
        type: "button",
        className: "room-action secondary",
        "data-testid": joined ? "leave-room" : "join-room",
      }, joined ? "Leave" : "Join");
      action.addEventListener("click", () => (joined ? sendLeave(room.room_id) : sendJoin(room.room_id, true)));
      item.appendChild(action);
      return item;
    });
    if (state.roomsCursor) {
      const more = el("button", { type: "button", className: "secondary room-more", "data-testid": "more-rooms" }, "More rooms");
      more.addEventListener("click", loadMoreRooms);
      const item = el("li");
      item.appendChild(more);
      items.push(item);
    }
    $("room-list").replaceChildren(...items);
  }

  async function readRoomsPage(cursor) {
    const query = "?limit=" + ROOMS_PAGE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const token = state.token;
    const data = await api("GET", "/rooms" + query);
    if (state.token !== token) return { count: 0, next: null }; // logged out meanwhile
    for (const room of data.rooms || []) state.rooms.set(room.room_id, room);
    return { count: (data.rooms || []).length, next: data.next_cursor || null };
  }

  async function loadMoreRooms() {
    if (!state.token || !state.roomsCursor) return;
    try {
      const page = await readRoomsPage(state.roomsCursor);
      state.roomsShown += ROOMS_PAGE;
      state.roomsCursor = page.next;
      renderRooms();
    } catch (err) {
      reportApiError(err, "Loading more rooms");
    }
  }

  async function refreshRooms() {
    if (!state.token) return;
    try {
      let read = 0;
      let cursor = null;
      do {
        const page = await readRoomsPage(cursor);
        read += page.count;
        cursor = page.next;
      } while (cursor && read < state.roomsShown);
      state.roomsCursor = cursor;
      for (const conv of state.conversations.values()) {
        const room = conv.kind === "room" && state.rooms.get(conv.id);
        if (room && room.name && room.name !== conv.title) conv.title = room.name;
      }
      renderRooms();
      renderTabs();
    } catch (err) {
      reportApiError(err, "Loading the rooms");
    }
  }

  // Over HTTP so the list is there even before the WebSocket is up.
  async function refreshSiteOnline() {
    if (!state.token) return;
    try {
      const data = await api("GET", "/online");
      setSiteOnline(Array.isArray(data.users) ? data.users : []);
    } catch (err) {
      reportApiError(err, "Loading who is online");
    }
  }

  // Joins and leaves come in bursts; one refresh shortly after is enough.
  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(refreshRooms, 300);
  }

  async function onCreateRoom(event) {
    event.preventDefault();
    const input = $("create-room-name");
    const name = input.value.trim();
    if (!name) {
      showError("Give the new room a name.", "bad_request");
      return;
    }
    try {
      const data = await api("POST", "/rooms", { name });
      input.value = "";
      await refreshRooms();
      if (data.room) sendJoin(data.room.room_id, true);
    } catch (err) {
      reportApiError(err, "Creating the room");
    }
  }

  function onLeaveButton() {
    const conv = state.conversations.get(state.activeKey);
    if (!conv) return;
    if (conv.kind === "room") sendLeave(conv.id);
    else closeConversation(conv.key);
  }

  // ---------------------------------------------------------------- phone panels

  function togglePanel(panelId, buttonId) {
    const panel = $(panelId);
    const open = !panel.classList.contains("open");
    closePanels();
    panel.classList.toggle("open", open);
    $(buttonId).setAttribute("aria-expanded", String(open));
  }

  function closePanels() {
    for (const [panelId, buttonId] of [["rooms-panel", "toggle-rooms"], ["people-panel", "toggle-people"]]) {
      $(panelId).classList.remove("open");
      $(buttonId).setAttribute("aria-expanded", "false");
    }
  }

  // ---------------------------------------------------------------- start-up

  // A reload keeps the session: the token lives in sessionStorage (per tab) and /me
  // tells whether it is still good.
  async function resumeSession() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      showView(false);
      return;
    }
    state.token = token;
    try {
      const data = await api("GET", "/me");
      startSession(data.user);
    } catch (err) {
      state.token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      showView(false);
      if (err instanceof ApiError && err.status !== 401) setAuthMessage(err.code === "network" ? "The server cannot be reached." : err.describe(), true);
    }
  }

  function bindEvents() {
    $("auth-form").addEventListener("submit", onLoginSubmit);
    $("register-button").addEventListener("click", onRegisterClick);
    $("logout-button").addEventListener("click", logOut);
    $("composer").addEventListener("submit", onComposerSubmit);
    $("message-input").addEventListener("keydown", onComposerKey);
    $("message-input").addEventListener("input", autoGrow);
    $("message-list").addEventListener("scroll", onMessageListScroll, { passive: true });
    $("create-room-form").addEventListener("submit", onCreateRoom);
    $("leave-button").addEventListener("click", onLeaveButton);
    $("error-dismiss").addEventListener("click", hideError);
    $("toggle-rooms").addEventListener("click", () => togglePanel("rooms-panel", "toggle-rooms"));
    $("toggle-people").addEventListener("click", () => togglePanel("people-panel", "toggle-people"));
    // On a phone a drawer covers the conversation; a tap beside it closes it.
    document.querySelector(".conversation").addEventListener("click", closePanels);
    // Coming back to a tab: the counts may have moved while timers were throttled.
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && state.token) refreshRooms();
    });
  }

  emptyHint = $("empty-hint");
  bindEvents();
  resumeSession();
})();
