/** Server-side paging: the page shows `size` rows from `offset`; `total` from an aggregate count. */
export function Pager(props: {
  offset: number;
  size: number;
  total: number | undefined;
  onOffset: (offset: number) => void;
}) {
  const { offset, size, total, onOffset } = props;
  const last = total === undefined ? offset + size : Math.min(total, offset + size);
  return (
    <div className="pager">
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - size))}>
        ← Newer
      </button>
      <span>
        {total === 0 ? "none" : `${offset + 1}–${last}`}
        {total === undefined ? "" : ` of ${total.toLocaleString()}`}
      </span>
      <button
        type="button"
        disabled={total !== undefined && offset + size >= total}
        onClick={() => onOffset(offset + size)}
      >
        Older →
      </button>
    </div>
  );
}
