import { AccountsTable } from '../components/AccountsTable.tsx';
import { accounts } from '../data/accounts.ts';

export default function AccountsPage() {
  return <AccountsTable accounts={accounts} />;
}
