# style.gp: shared look of the suite's figures, loaded by every plots/*.gp script.
# A script sets in_csv, out_file and fig_title from its arguments before loading this file
# (gnuplot's load clears ARG1..). The terminal follows the extension of out_file: .pdf ->
# pdfcairo, anything else -> pngcairo. Series colours are the Okabe-Ito palette (distinguishable with colour-blindness).
if (strlen(out_file) > 4 && out_file[strlen(out_file)-3:] eq "pdf") {
    set terminal pdfcairo enhanced color font "Helvetica,9" size 6in,4in linewidth 1.5
} else {
    set terminal pngcairo enhanced color font "Helvetica,11" size 900,600 linewidth 1.5
}
set output out_file
set datafile separator comma
set datafile missing "NaN"
set encoding utf8
set grid xtics ytics mxtics mytics lc rgb "#dddddd" lw 0.5
set border 3 lw 1
set tics nomirror out
set key noenhanced top right box opaque samplen 2.5 spacing 1.1 font ",9" Left reverse width 1
set title noenhanced font ",11"
set pointsize 1.0
set style line 1 lc rgb "#0072B2" pt 7 dt 1
set style line 2 lc rgb "#D55E00" pt 5 dt 1
set style line 3 lc rgb "#009E73" pt 9 dt 1
set style line 4 lc rgb "#CC79A7" pt 11 dt 1
set style line 5 lc rgb "#E69F00" pt 13 dt 1
set style line 6 lc rgb "#56B4E9" pt 15 dt 1
set style line 7 lc rgb "#000000" pt 3 dt 1
set style line 8 lc rgb "#999999" pt 1 dt 1
set style line 9 lc rgb "#8C7A00" pt 2 dt 1
set style line 10 lc rgb "#882255" pt 4 dt 1
set style increment user
# colour of series i (0-based), cycling through the ten styles above
series_color(i) = word("#0072B2 #D55E00 #009E73 #CC79A7 #E69F00 #56B4E9 #000000 #999999 #8C7A00 #882255", (i % 10) + 1)
series_point(i) = (i % 10) == 0 ? 7 : (i % 10) == 1 ? 5 : (i % 10) == 2 ? 9 : (i % 10) == 3 ? 11 : (i % 10) == 4 ? 13 : (i % 10) == 5 ? 15 : (i % 10) == 6 ? 3 : (i % 10) == 7 ? 1 : (i % 10) == 8 ? 2 : 4
# the number of data blocks of the input (blocks are separated by two blank lines)
stats in_csv using 1 nooutput
nblocks = STATS_blocks
set title fig_title
