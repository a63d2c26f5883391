/** Problems the server found, each at its JSON path (SPEC 3: `steps[3].delay_seconds`). */
import type { ErrorDetail } from '../api/types.ts';

/** Props of ErrorList. */
export interface ErrorListProps {
  title: string;
  errors: readonly ErrorDetail[];
}

/** The list of problems. */
export function ErrorList({ title, errors }: ErrorListProps) {
  if (errors.length === 0) return null;
  return (
    <div class="errors" role="alert" data-testid="errors">
      <p>
        <strong>{title}</strong>
      </p>
      <ul>
        {errors.map((error, i) => (
          <li key={i}>
            <code class="path">{error.path || '(the whole definition)'}</code> <span class="muted">{error.code}</span> {error.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
