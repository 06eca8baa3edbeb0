# mk-hostile.pl KIND SIZE [OUT]: writes a hostile input of about SIZE bytes
# (a number, optionally with k or M: 600k, 16M) to OUT (default stdout), the
# inputs of issue 15 item 3 that once cost minutes or gigabytes:
#   nested        {"a":{"a":...1...}}: nesting depth SIZE/6 (100k levels: 600k)
#   brace-lines   "{\n" lines, none of them closed (4 MiB: 4M)
#   array         [1,1,...]: SIZE/2 tokens (63 MiB: 63M)
#   strings       ["xxx...",...]: 100-byte strings, SIZE/103 tokens
#   cli-nested    a CLI answer: a progress line, then {"success":true,"x":[[[...]]]}
#   advisories    the real collateral (testdata) whose TCB level with advisory
#                 IDs lists SIZE/19 more (200k IDs: 3800k)
#   pem-chain     the real collateral whose TCB info issuer chain repeats its
#                 certificates to SIZE bytes (30k certificates: about 27M)
#   racert-pem    the RA-TLS certificate of testdata/phala-app-cert.pem with its
#                 CA certificates repeated to SIZE bytes (30k certificates: 20M)
# The collateral kinds keep every other byte as it is, so that only the
# hostile part differs from a genuine input (its signatures then fail).
use strict;
use warnings;

my ($kind, $size, $out) = @ARGV;
die "usage: mk-hostile.pl KIND SIZE [OUT]\n" unless defined $size && $size =~ /^(\d+)([kM]?)$/;
my $bytes = $1 * ($2 eq 'k' ? 1000 : $2 eq 'M' ? 1 << 20 : 1);
my $root = $0 =~ s{/t/helpers/[^/]+$}{}r;
$root = '.' if $root eq $0;
my $data = "$root/testdata";

sub slurp {
	open(my $f, '<', $_[0]) or die "open $_[0]: $!\n";
	local $/;
	return scalar <$f>;
}

# Certificate blocks of a PEM text, each with its newline.
sub pem_blocks {
	return $_[0] =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?)/gs;
}

# The blocks repeated (cycling) until about $bytes.
sub repeat_to {
	my ($bytes, @blocks) = @_;
	my ($text, $i) = ('', 0);
	$text .= $blocks[$i++ % @blocks] while length $text < $bytes;
	return $text;
}

my $text;
if ($kind eq 'nested') {
	my $n = int($bytes / 6) || 1;
	$text = '{"a":' x $n . '1' . '}' x $n . "\n";
} elsif ($kind eq 'brace-lines') {
	$text = "{\n" x (int($bytes / 2) || 1);
} elsif ($kind eq 'array') {
	my $n = int(($bytes - 2) / 2) || 1;
	$text = '[' . '1,' x ($n - 1) . "1]\n";
} elsif ($kind eq 'strings') {
	my $n = int($bytes / 103) || 1;
	my $s = '"' . 'x' x 100 . '"';
	$text = '[' . join(',', ($s) x $n) . "]\n";
} elsif ($kind eq 'cli-nested') {
	my $n = int(($bytes - 40) / 2) || 1;
	$text = "Fetching CVM...\n" . '{"success":true,"x":' . '[' x $n . ']' x $n . "}\n";
} elsif ($kind eq 'advisories') {
	# Spliced into the text (the collateral carries TCB info as an escaped string).
	$text = slurp("$data/dcap-qvl-tdx-collateral.json");
	my $ids = join('', map { sprintf '\"INTEL-SA-%05d\",', $_ } 1 .. (int($bytes / 19) || 1));
	$text =~ s/(\\"advisoryIDs\\":\[)/$1$ids/ or die "no advisoryIDs in the collateral\n";
} elsif ($kind eq 'pem-chain') {
	$text = slurp("$data/dcap-qvl-tdx-collateral.json");
	$text =~ /"tcb_info_issuer_chain":\s*"((?:[^"\\]|\\.)*)"/ or die "no tcb_info_issuer_chain\n";
	my @blocks = $1 =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----(?:\\n)?)/g;
	my $chain = repeat_to($bytes, @blocks);
	$text =~ s/("tcb_info_issuer_chain":\s*")(?:[^"\\]|\\.)*"/$1$chain"/;
} elsif ($kind eq 'racert-pem') {
	my ($leaf, @cas) = pem_blocks(slurp("$data/phala-app-cert.pem"));
	$text = $leaf . repeat_to($bytes - length $leaf, @cas);
} else {
	die "mk-hostile.pl: unknown kind $kind\n";
}
my $fh = \*STDOUT;
if (defined $out) { open($fh, '>', $out) or die "write $out: $!\n"; }
print $fh $text;
close $fh or die "close: $!\n";
