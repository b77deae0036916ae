// The agenttrail console: sign in, then sessions, timelines, the live tail,
// the access log, personal data (erasure, legal holds, retention), exports
// and the log's trust state. Routes live in the
// URL's hash (#/sessions, #/session/<id>, ...), so the server serves one page.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentSession, signIn, signOut, whenSignedOut } from "./api.js";
import type { SessionInfo } from "./api.js";
import { AccessLog } from "./pages/access.js";
import { Privacy } from "./pages/privacy.js";
import { Sessions } from "./pages/sessions.js";
import { Stats } from "./pages/stats.js";
import { Tail } from "./pages/tail.js";
import { Timeline } from "./pages/timeline.js";
import { TrustPage } from "./pages/trust.js";
import { Notice } from "./widgets.js";

function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
}

function SignIn({ onDone, reason }: { onDone: (s: SessionInfo) => void; reason?: string }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem("key") as HTMLInputElement;
    setBusy(true);
    setError("");
    try {
      const s = await signIn(input.value);
      input.value = "";
      onDone(s);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="signin">
      <h1>agenttrail</h1>
      <p>Sign in with your API key to read the trail. The key is checked once and never kept in this browser: the console holds a session that ends when you sign out.</p>
      {reason && <Notice kind="info">{reason}</Notice>}
      <form onSubmit={submit}>
        <label for="key">API key</label>
        <input id="key" name="key" type="password" autocomplete="off" spellcheck={false} required autofocus placeholder="at_…" />
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      <p class="hint">No key? An admin creates one: <code>agenttrail keys create --principal you --role developer</code> (or compliance).</p>
    </main>
  );
}

const NAV: { path: string; label: string; roles?: string[] }[] = [
  { path: "sessions", label: "Sessions" },
  { path: "tail", label: "Live tail" },
  { path: "access", label: "Access log", roles: ["compliance", "admin"] },
  { path: "privacy", label: "Personal data", roles: ["compliance", "admin"] },
  { path: "stats", label: "Stats" },
  { path: "trust", label: "Verification" },
];

function App() {
  const [session, setSession] = useState<SessionInfo | undefined | null>(null);
  const [reason, setReason] = useState<string | undefined>();
  const route = useRoute();
  useEffect(() => {
    whenSignedOut((why) => {
      setReason(`Your session ended (${why}). Sign in again.`);
      setSession(undefined);
    });
    currentSession().then(setSession, () => setSession(undefined));
  }, []);
  if (session === null) return <div class="loading">Loading…</div>;
  if (session === undefined) return <SignIn reason={reason} onDone={(s) => { setReason(undefined); setSession(s); if (!location.hash) location.hash = "#/sessions"; }} />;
  const page = route[0] || "sessions";
  let body;
  switch (page) {
    case "session":
      body = <Timeline key={route[1]} sessionId={route[1] ?? ""} role={session.role} />;
      break;
    case "tail":
      body = <Tail />;
      break;
    case "access":
      body = <AccessLog role={session.role} />;
      break;
    case "privacy":
      body = <Privacy key={route.join("/")} role={session.role} route={route.slice(1)} />;
      break;
    case "stats":
      body = <Stats />;
      break;
    case "trust":
      body = <TrustPage />;
      break;
    default:
      body = <Sessions />;
  }
  return (
    <>
      <header class="top">
        <a class="brand" href="#/sessions">agenttrail</a>
        <nav aria-label="Pages">
          {NAV.filter((n) => !n.roles || n.roles.includes(session.role)).map((n) => (
            <a key={n.path} href={`#/${n.path}`} aria-current={page === n.path || (page === "session" && n.path === "sessions") ? "page" : undefined}>{n.label}</a>
          ))}
        </nav>
        <div class="who">
          <span title={`session ends ${new Date(session.expiresAt).toLocaleString()}`}>{session.principal} · <b class={`role role-${session.role}`}>{session.role}</b></span>
          <button type="button" onClick={async () => { await signOut(); setReason("You signed out."); setSession(undefined); }}>Sign out</button>
        </div>
      </header>
      <main class="page">{body}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
