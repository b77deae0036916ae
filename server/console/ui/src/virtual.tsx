// A virtualised list on @tanstack/virtual-core: only the rows in view (and
// a few around them) are in the DOM, measured as they render, so a session
// of tens of thousands of events scrolls as lightly as one of ten.
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";

export interface VirtualListProps {
  count: number;
  estimate: number;
  row: (index: number) => ComponentChildren;
  rowKey: (index: number) => string | number;
  /** The row with keyboard focus, kept in view. */
  active?: number;
  label: string;
  onKey?: (e: KeyboardEvent) => void;
  follow?: boolean; // stay at the bottom as rows arrive
}

export function VirtualList(props: VirtualListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const [v] = useState(
    () =>
      new Virtualizer<HTMLDivElement, Element>({
        count: props.count,
        getScrollElement: () => scroller.current,
        estimateSize: () => props.estimate,
        scrollToFn: elementScroll,
        observeElementRect,
        observeElementOffset,
        onChange: () => rerender(0),
        overscan: 8,
        getItemKey: props.rowKey,
        measureElement: (el) => el.getBoundingClientRect().height,
      }),
  );
  v.setOptions({ ...v.options, count: props.count, getItemKey: props.rowKey, estimateSize: () => props.estimate });
  useLayoutEffect(() => v._didMount(), []);
  useLayoutEffect(() => v._willUpdate());
  useEffect(() => {
    if (props.active !== undefined && props.active >= 0 && props.active < props.count) v.scrollToIndex(props.active, { align: "auto" });
  }, [props.active]);
  useEffect(() => {
    if (props.follow && props.count > 0) v.scrollToIndex(props.count - 1, { align: "end" });
  }, [props.count, props.follow]);
  const items = v.getVirtualItems();
  return (
    <div class="vlist" ref={scroller} role="list" aria-label={props.label} tabIndex={0} onKeyDown={props.onKey}>
      <div class="vlist-inner" style={{ height: `${v.getTotalSize()}px` }}>
        <div class="vlist-window" style={{ transform: `translateY(${items[0]?.start ?? 0}px)` }}>
          {items.map((it) => (
            <div key={it.key} data-index={it.index} ref={(el) => { if (el) v.measureElement(el); }} role="listitem">
              {props.row(it.index)}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
