// Small shared pieces: show-more text, badges, messages, dialogs.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

const LIMIT = 400;

/** Long text collapsed to its start, with a toggle. */
export function ShowMore({ text, mono }: { text: string; mono?: boolean }) {
  const [open, setOpen] = useState(false);
  if (text === "") return null;
  const long = text.length > LIMIT || text.split("\n").length > 6;
  const shown = open || !long ? text : text.slice(0, LIMIT).split("\n").slice(0, 6).join("\n") + "…";
  return (
    <div class={mono ? "text mono" : "text"}>
      <span>{shown}</span>
      {long && (
        <button type="button" class="link" onClick={(e) => { e.stopPropagation(); setOpen(!open); }}>
          {open ? "show less" : `show more (${text.length.toLocaleString("en-US")} characters)`}
        </button>
      )}
    </div>
  );
}

/** A message box: what happened and what to do. */
export function Notice({ kind, children }: { kind: "error" | "empty" | "info" | "warn"; children: ComponentChildren }) {
  return <div class={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>{children}</div>;
}

/** A modal dialog that closes on Escape and gives focus back. */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    const back = document.activeElement as HTMLElement | null;
    d.showModal();
    return () => back?.focus();
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-label={title} onClose={onClose} onClick={(e) => e.target === ref.current && onClose()}>
      <header>
        <h2>{title}</h2>
        <button type="button" class="close" aria-label="Close" onClick={onClose}>×</button>
      </header>
      <div class="dialog-body">{children}</div>
    </dialog>
  );
}

export function Spinner({ label }: { label: string }) {
  return <div class="spinner" role="status">{label}…</div>;
}
