/**
 * Asks for an API token when the server refuses the current one (401 or WebSocket close 4001). The
 * token is kept for this browser session only.
 */
import { useState } from 'preact/hooks';
import { setToken, token } from '../state/session.ts';

/** Props of TokenPrompt. */
export interface TokenPromptProps {
  /** Called with the new token once entered. */
  onToken(value: string): void;
}

/** The token form. */
export function TokenPrompt({ onToken }: TokenPromptProps) {
  const [value, setValue] = useState('');
  return (
    <section class="token-prompt" role="dialog" aria-modal="true" aria-labelledby="token-title">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setToken(value.trim());
          onToken(value.trim());
        }}
      >
        <h2 id="token-title">Sign in</h2>
        <p>{token.value ? 'The server did not accept this token.' : 'This server needs an API token.'} A viewer token shows everything; an operator token also lets you act.</p>
        <label>
          API token
          <input type="password" name="token" autoComplete="off" required autoFocus value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        <button type="submit">Use this token</button>
        <p class="muted">Kept in this browser tab until it closes (sessionStorage).</p>
      </form>
    </section>
  );
}
