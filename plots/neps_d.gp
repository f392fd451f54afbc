# neps_d.gp: sample complexity n_eps vs input dimension d, log-log, one curve per method
# (colour and marker from style.gp): filled markers joined by a line where n_eps was measured,
# the power law n_eps = C d^b fitted over those points only (dashed; slope, its standard error
# and the number of points in the key), and open triangles where n_eps is censored: pointing
# up, not reached up to the largest n run (n_eps > that n); pointing down, reached already at
# the smallest n run (n_eps <= that n). A censored value is never fitted.
#   gnuplot -c plots/neps_d.gp fig_neps_d_X.csv out.png ["title"]
# Input: blocks of "d,n_eps,censor,fit" rows (censor 0 measured, 1 above, -1 below) with a
# header naming the method and its fit.
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale xy
set xlabel "input dimension d"
set ylabel "n_ε: smallest n with median error ≤ ε"
set format x "%g"
set format y "%g"
set xtics (4, 6, 8, 12, 16, 24, 32, 48, 64)
set key outside right top width -4
set autoscale fix
set offsets graph 0.08, graph 0.08, graph 0.1, graph 0.1
plot for [i=0:nblocks-1] in_csv index i using 1:($3 == 0 ? $2 : NaN) with linespoints \
         lc rgb block_color(i) pt block_point(i) title columnheader(1), \
     for [i=0:nblocks-1] in_csv index i using 1:4 with lines lc rgb block_color(i) dt 2 notitle, \
     for [i=0:nblocks-1] in_csv index i using 1:($3 == 1 ? $2 : NaN) with points \
         lc rgb block_color(i) pt 8 ps 1.6 notitle, \
     for [i=0:nblocks-1] in_csv index i using 1:($3 == -1 ? $2 : NaN) with points \
         lc rgb block_color(i) pt 10 ps 1.6 notitle, \
     keyentry with points lc rgb "black" pt 8 ps 1.6 title "n_ε > n: not reached up to n", \
     keyentry with points lc rgb "black" pt 10 ps 1.6 title "n_ε ≤ n: reached at the smallest n"
